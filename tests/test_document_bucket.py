"""Documents in an S3-compatible bucket (issue #18), against moto's in-process S3: upload,
list, download (an attachment streamed through the app), delete; a bucket that fails gives
a clear message and saves nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto import mock_aws
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Document, Role
from crmlite.services import document_storage, documents
from tests.conftest import page_token
from tests.test_documents import PDF, upload

BUCKET = "crmlite-documents"
PREFIX = "team-1/"
# Nothing listens on port 9 (discard) here: connecting is refused at once.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture()
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys that are fake, and no profile of the machine's."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture()
def bucket(app: Flask, aws_environment: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 with the documents bucket; the app configured to use it. Yields a client to
    look inside the bucket."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for name, value in {
            "DOCUMENT_S3_BUCKET": BUCKET,
            "DOCUMENT_S3_REGION": "us-east-1",
            "DOCUMENT_S3_PREFIX": PREFIX,
        }.items():
            monkeypatch.setitem(app.config, name, value)
        app.extensions.pop("document_storage", None)
        yield s3
        app.extensions.pop("document_storage", None)


def objects(s3: Any) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def document_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Document.id))) or 0


def test_storage_from_the_settings(tmp_path, aws_environment) -> None:
    folder = document_storage.storage_from(
        {"DOCUMENT_DIR": str(tmp_path), "DOCUMENT_S3_BUCKET": ""}
    )
    assert isinstance(folder, document_storage.FolderStorage)
    in_bucket = document_storage.storage_from(
        {
            "DOCUMENT_DIR": str(tmp_path),
            "DOCUMENT_S3_BUCKET": "b",
            "DOCUMENT_S3_ENDPOINT_URL": "http://minio.internal:9000",
            "DOCUMENT_S3_REGION": "eu-west-3",
            "DOCUMENT_S3_PREFIX": "crm/",
        }
    )
    assert isinstance(in_bucket, document_storage.BucketStorage)
    assert in_bucket.client.meta.endpoint_url == "http://minio.internal:9000"
    assert in_bucket.client.meta.region_name == "eu-west-3"
    assert (in_bucket.bucket, in_bucket.prefix) == ("b", "crm/")


def test_upload_list_download_delete(
    client: FlaskClient, signed_in, make_opportunity, bucket, tmp_path
) -> None:
    me = signed_in(Role.REP, name="Cory Ferguson")
    deal = make_opportunity(account_manager_id=me.id)
    response = upload(client, deal.id, "Proposal.pdf", PDF)
    assert response.status_code == 200
    assert "Proposal.pdf" in response.get_data(as_text=True)
    document = db.session.scalars(select(Document)).one()
    # In the bucket under its random key (with the prefix), as the content type it is.
    assert objects(bucket) == {f"{PREFIX}{document.storage_key}": PDF}
    head = bucket.head_object(Bucket=BUCKET, Key=f"{PREFIX}{document.storage_key}")
    assert head["ContentType"] == "application/pdf"
    assert not any(tmp_path.iterdir())  # nothing on disk

    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert "Proposal.pdf" in page and "Cory Ferguson" in page

    download = client.get(f"/opportunities/{deal.id}/documents/{document.id}")
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "Proposal.pdf" in download.headers["Content-Disposition"]
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Length"] == str(len(PDF))
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]

    token = page_token(client, f"/opportunities/{deal.id}")
    response = client.post(
        f"/opportunities/{deal.id}/documents/{document.id}/delete",
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200 and "Proposal.pdf" not in response.get_data(as_text=True)
    assert objects(bucket) == {} and document_count() == 0


def test_an_object_gone_from_the_bucket_is_404(
    client: FlaskClient, signed_in, make_opportunity, bucket
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    upload(client, deal.id, "Proposal.pdf", PDF)
    document = db.session.scalars(select(Document)).one()
    bucket.delete_object(Bucket=BUCKET, Key=f"{PREFIX}{document.storage_key}")
    assert client.get(f"/opportunities/{deal.id}/documents/{document.id}").status_code == 404


def test_a_missing_bucket_saves_nothing_and_says_so(
    app: Flask, client: FlaskClient, signed_in, make_opportunity, bucket, monkeypatch
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    monkeypatch.setitem(app.config, "DOCUMENT_S3_BUCKET", "no-such-bucket")
    response = upload(client, deal.id, "Proposal.pdf", PDF)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The documents store cannot be reached just now; nothing was saved." in html
    assert 'class="field-error"' in html
    assert document_count() == 0 and objects(bucket) == {}


def test_an_unreachable_bucket_saves_nothing_and_download_says_so(
    app: Flask, client: FlaskClient, signed_in, make_opportunity, bucket, monkeypatch
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    upload(client, deal.id, "Kept.pdf", PDF)
    document = db.session.scalars(select(Document)).one()
    db.session.rollback()
    # The endpoint moves to where nothing listens (moto passes addresses it does not
    # serve on to the network): the connection is refused.
    monkeypatch.setitem(app.config, "DOCUMENT_S3_ENDPOINT_URL", NOWHERE)
    response = upload(client, deal.id, "Proposal.pdf", PDF)
    assert "cannot be reached" in response.get_data(as_text=True)
    assert document_count() == 1  # only the first

    download = client.get(f"/opportunities/{deal.id}/documents/{document.id}")
    assert download.status_code == 503
    assert "cannot be reached" in download.get_data(as_text=True)


def test_the_file_goes_when_the_row_cannot_be_saved(
    app: Flask, make_member, make_opportunity, bucket, monkeypatch
) -> None:
    me = make_member()
    deal = make_opportunity(account_manager_id=me.id)
    storage = document_storage.storage_from(app.config)

    def failing_flush(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database refused")

    with monkeypatch.context() as patched:
        patched.setattr(db.session, "flush", failing_flush)
        with pytest.raises(RuntimeError):
            documents.upload(deal, "p.pdf", PDF, by=me, storage=storage)
    assert objects(bucket) == {}
