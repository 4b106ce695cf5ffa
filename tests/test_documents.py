"""Documents on an opportunity (issue #18): upload checked by content and size, the list
with who/when/size, downloads only as attachments, deletion by the uploader or a manager
(the file goes too), and bad uploads refused with nothing stored."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import AuditEntry, Document, Role
from crmlite.services import documents
from crmlite.services.document_storage import FolderStorage
from tests.conftest import page_token

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


def office(part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<x/>")
    return buffer.getvalue()


@pytest.fixture()
def folder(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The documents folder of this test."""
    monkeypatch.setitem(app.config, "DOCUMENT_DIR", str(tmp_path / "documents"))
    return tmp_path / "documents"


def stored(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def document_count() -> int:
    return db.session.scalar(select(func.count(Document.id))) or 0


def upload(client: FlaskClient, opportunity_id: int, name: str, content: bytes, htmx: bool = True):
    url = f"/opportunities/{opportunity_id}"
    token = page_token(client, url)
    headers = {"X-CSRFToken": token, **({"HX-Request": "true"} if htmx else {})}
    # The body built here: werkzeug's test client would spool a large one to a temporary
    # file it never closes (a ResourceWarning, an error under the suite's settings).
    boundary = "----crmlite-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="document"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        f"{url}/documents",
        data=body,
        headers=headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


# ---------------------------------------------------------------- recognising content


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (PDF, documents.PDF),
        (PNG, documents.PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", documents.JPEG),
        (office("word/document.xml"), documents.DOCX),
        (office("xl/workbook.xml"), documents.XLSX),
        (office("ppt/presentation.xml"), documents.PPTX),
        ("Évaluation du réseau: 12 switches.\r\n\tDone.".encode(), documents.TEXT),
        (EXE, None),
        (b"PK\x03\x04not really a zip", None),
        (b"\x7fELF\x02\x01\x01", None),
        (b"caf\xe9 latin-1", None),
    ],
)
def test_kind_is_read_from_the_content(content: bytes, kind) -> None:
    assert documents.kind_of(content) == kind


def test_a_plain_zip_is_not_an_office_document() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<x/>")
    assert documents.kind_of(buffer.getvalue()) is None


# ---------------------------------------------------------------- upload and list


def test_upload_lists_it_with_who_when_and_size(
    client, signed_in, make_opportunity, folder
) -> None:
    me = signed_in(Role.REP, name="Cory Ferguson")
    deal = make_opportunity(account_manager_id=me.id)
    response = upload(client, deal.id, "Proposal.pdf", PDF)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="opportunity-documents"' in html
    assert "Proposal.pdf" in html and "Cory Ferguson" in html
    assert f"{len(PDF)} Bytes" in html
    document = db.session.scalars(select(Document)).one()
    assert document.content_type == "application/pdf" and document.size == len(PDF)
    assert document.uploaded_by_id == me.id
    (path,) = stored(folder)
    assert path.name == document.storage_key != "Proposal.pdf"
    assert path.read_bytes() == PDF
    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert "Proposal.pdf" in page and 'enctype="multipart/form-data"' in page


def test_upload_without_htmx_goes_back_to_the_page(
    client, signed_in, make_opportunity, folder
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    response = upload(client, deal.id, "assessment.txt", b"Twelve switches.\n", htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/opportunities/{deal.id}#opportunity-documents")
    assert document_count() == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("setup.pdf", EXE, "This kind of file is not accepted"),  # a program renamed .pdf
        ("photo.docx", PNG, "The file is a PNG image, but its name does not say so"),
        ("empty.pdf", b"", "The file is empty."),
        ("archive.zip", b"PK\x03\x04junk", "This kind of file is not accepted"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    client, signed_in, make_opportunity, folder, name, content, message
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    response = upload(client, deal.id, name, content)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html and 'class="field-error"' in html
    assert document_count() == 0
    assert stored(folder) == []


def test_without_a_file_it_asks_for_one(client, signed_in, make_opportunity, folder) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    token = page_token(client, f"/opportunities/{deal.id}")
    response = client.post(
        f"/opportunities/{deal.id}/documents",
        data={},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert "Choose a file to upload." in response.get_data(as_text=True)
    assert document_count() == 0


def test_a_file_over_the_limit_is_refused(
    app, client, signed_in, make_opportunity, folder, monkeypatch
) -> None:
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 1000)
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    just_over = PDF + b"%" * (1001 - len(PDF))
    html = upload(client, deal.id, "big.pdf", just_over).get_data(as_text=True)
    assert "The file is larger than" in html
    assert document_count() == 0 and stored(folder) == []
    # Far over: the request itself is too large, refused before it is read.
    response = upload(client, deal.id, "huge.pdf", PDF + b"%" * 200_000, htmx=False)
    assert response.status_code == 413
    assert "The file is larger than" in response.get_data(as_text=True)
    assert document_count() == 0 and stored(folder) == []
    assert upload(client, deal.id, "fits.pdf", PDF).status_code == 200
    assert document_count() == 1


def test_the_documents_limit_is_above_the_apps_request_limit(
    app, client, signed_in, make_opportunity, folder
) -> None:
    """A 5 MB proposal passes, though other forms stop at 4 MB."""
    assert app.config["MAX_CONTENT_LENGTH"] < 5 * 1024 * 1024 < app.config["DOCUMENT_MAX_BYTES"]
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    big = PDF + b"%" * (5 * 1024 * 1024)
    html = upload(client, deal.id, "Big proposal.pdf", big).get_data(as_text=True)
    assert "Big proposal.pdf" in html and "field-error" not in html
    assert document_count() == 1


# ---------------------------------------------------------------- download


def test_download_is_an_attachment_never_inline(
    client, signed_in, make_opportunity, make_member, folder
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    upload(client, deal.id, "Agreement – signed.pdf", PDF)
    document = db.session.scalars(select(Document)).one()
    response = client.get(f"/opportunities/{deal.id}/documents/{document.id}")
    assert response.status_code == 200
    assert response.data == PDF
    response.close()
    assert response.headers["Content-Type"] == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Agreement%20%E2%80%93%20signed.pdf" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    # Another deal's URL with this document's id: not found.
    other = make_opportunity(name="Other deal", account_manager_id=me.id)
    assert client.get(f"/opportunities/{other.id}/documents/{document.id}").status_code == 404
    assert client.get(f"/opportunities/{deal.id}/documents/999999").status_code == 404


def test_a_text_file_is_served_as_plain_text(client, signed_in, make_opportunity, folder) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    upload(client, deal.id, "notes.txt", b"<script>alert(1)</script>\n")
    document = db.session.scalars(select(Document)).one()
    response = client.get(f"/opportunities/{deal.id}/documents/{document.id}")
    response.close()
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Content-Disposition"].startswith("attachment;")


# ---------------------------------------------------------------- rights and deletion


def test_who_may_upload_read_and_delete(
    client, signed_in, make_member, make_opportunity, folder
) -> None:
    owner = make_member(role=Role.REP, name="Owner")
    deal = make_opportunity(account_manager_id=owner.id)
    document = documents.upload(deal, "p.pdf", PDF, by=owner, storage=FolderStorage(folder))
    db.session.commit()
    colleague = signed_in(Role.REP)
    assert colleague.id != owner.id
    # A colleague not on the deal reads the list and downloads (as the page), but neither
    # uploads nor deletes.
    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert "p.pdf" in page and ">Delete<" not in page and 'name="document"' not in page
    with client.get(f"/opportunities/{deal.id}/documents/{document.id}") as response:
        assert response.status_code == 200
    assert upload(client, deal.id, "x.pdf", PDF).status_code == 403
    token = page_token(client, f"/opportunities/{deal.id}")
    url = f"/opportunities/{deal.id}/documents/{document.id}/delete"
    assert client.post(url, headers={"X-CSRFToken": token}).status_code == 403
    assert document_count() == 1 and len(stored(folder)) == 1


def test_the_uploader_deletes_it_and_its_file(client, signed_in, make_opportunity, folder) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    upload(client, deal.id, "Proposal.pdf", PDF)
    document = db.session.scalars(select(Document)).one()
    token = page_token(client, f"/opportunities/{deal.id}")
    response = client.post(
        f"/opportunities/{deal.id}/documents/{document.id}/delete",
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "No documents yet." in response.get_data(as_text=True)
    assert document_count() == 0 and stored(folder) == []
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.kind == "deleted")).one()
    assert entry.object_kind == "document" and "Proposal.pdf" in entry.summary


def test_a_manager_deletes_a_reps_document_but_another_rep_on_the_deal_does_not(
    client, signed_in, make_member, make_opportunity, folder
) -> None:
    rep = make_member(role=Role.REP)
    teammate = make_member(role=Role.REP)
    deal = make_opportunity(account_manager_id=rep.id, sales_associate_id=teammate.id)
    document = documents.upload(deal, "p.pdf", PDF, by=rep, storage=FolderStorage(folder))
    db.session.commit()
    from crmlite.services import permissions

    assert not permissions.allows(teammate, "document.delete", document)
    assert permissions.allows(teammate, "opportunity.change", deal)
    signed_in(Role.MANAGER)
    token = page_token(client, f"/opportunities/{deal.id}")
    response = client.post(
        f"/opportunities/{deal.id}/documents/{document.id}/delete",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 302
    assert document_count() == 0 and stored(folder) == []


def test_delete_without_csrf_is_refused(client, signed_in, make_opportunity, folder) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    document = documents.upload(deal, "p.pdf", PDF, by=me, storage=FolderStorage(folder))
    db.session.commit()
    response = client.post(f"/opportunities/{deal.id}/documents/{document.id}/delete")
    assert response.status_code == 400
    assert document_count() == 1 and len(stored(folder)) == 1


def test_the_page_loads_documents_in_constant_queries(
    client, signed_in, make_opportunity, folder, queries
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    documents.upload(deal, "a.pdf", PDF, by=me, storage=FolderStorage(folder))
    db.session.commit()
    with queries() as few:
        client.get(f"/opportunities/{deal.id}")
    for n in range(5):
        other = make_opportunity(name=f"x{n}")  # noqa: F841 - more rows elsewhere too
        documents.upload(deal, f"b{n}.pdf", PDF, by=me, storage=FolderStorage(folder))
    db.session.commit()
    with queries() as many:
        html = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert len(re.findall(r'id="document-\d', html)) == 6
    assert many.count == few.count
