"""Setup → Products: the catalogue forecast lines pick from (managers)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import OpportunityType
from crmlite.services import products
from crmlite.services.parsing import parse_id
from crmlite.web import get_or_404, is_htmx, me
from crmlite.web.products_forms import ProductForm, product_form

bp = Blueprint("products", __name__, url_prefix="/setup/products")


def _page(
    *,
    editing: OpportunityType | None = None,
    edit_form: ProductForm | None = None,
    new_form: ProductForm | None = None,
    message: str = "",
    error: str = "",
) -> str:
    """The catalogue section (htmx) or the whole page."""
    if editing is not None and edit_form is None:
        edit_form = product_form(editing, formdata=False)
    context: dict[str, Any] = {
        "products": products.catalogue(),
        "in_use": products.in_use(),
        "editing_id": editing.id if editing is not None else None,
        "edit_form": edit_form,
        "new_form": new_form or product_form(formdata=False),
        "message": message,
        "error": error,
    }
    template = "products/_catalogue.html" if is_htmx() else "products/page.html"
    return render_template(template, **context)


def _saved(message: str) -> str | Response:
    if is_htmx():
        return _page(message=message)
    flash(message, "success")
    return redirect(url_for("products.index"))


def _refused(form: ProductForm, refused: products.ProductRefused) -> None:
    db.session.rollback()
    field = form[refused.field]
    field.errors = [*field.errors, str(refused)]


@bp.get("/")
def index() -> str:
    """The catalogue, editable in place: ``?edit=<id>`` opens a row."""
    editing = parse_id(request.args.get("edit"))
    return _page(editing=get_or_404(OpportunityType, editing) if editing else None)


@bp.post("/")
def create() -> str | Response:
    form = product_form()
    if form.validate():
        try:
            created = products.save_product(None, form.values())
        except products.ProductRefused as refused:
            _refused(form, refused)
        else:
            db.session.commit()
            return _saved(f"{created.name} added.")
    return _page(new_form=form)


@bp.post("/<int:product_id>")
def update(product_id: int) -> str | Response:
    product = get_or_404(OpportunityType, product_id)
    form = product_form(product)
    if form.validate():
        try:
            products.save_product(product, form.values())
        except products.ProductRefused as refused:
            _refused(form, refused)
        else:
            db.session.commit()
            return _saved(f"{product.name} saved.")
    return _page(editing=get_or_404(OpportunityType, product_id), edit_form=form)


@bp.post("/<int:product_id>/delete")
def delete(product_id: int) -> str | Response:
    product = get_or_404(OpportunityType, product_id)
    name = product.name
    try:
        products.delete_product(product, by=me())
    except products.ProductRefused as refused:
        db.session.rollback()
        if is_htmx():
            return _page(error=str(refused))
        flash(str(refused), "error")
        return redirect(url_for("products.index"))
    db.session.commit()
    return _saved(f"{name} deleted.")
