"""Areas whose screens are not built yet: a plain page that says so and what is coming."""

from __future__ import annotations

from flask import Blueprint, render_template


def placeholder_blueprint(name: str, url_prefix: str, title: str, coming: str) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix=url_prefix)

    @bp.get("/")
    def index() -> str:
        return render_template("placeholder.html", title=title, coming=coming)

    return bp
