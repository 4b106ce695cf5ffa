"""Sign in and sign out."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from crmlite.extensions import db, limiter
from crmlite.services import members
from crmlite.web import public, safe_next, strip

bp = Blueprint("auth", __name__)


class SignInForm(FlaskForm):
    email = EmailField(
        "E-mail",
        filters=[strip],
        validators=[
            DataRequired("Enter your e-mail address."),
            Email("Enter a valid e-mail address."),
            Length(max=254),
        ],
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me signed in on this computer")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        member = members.authenticate(form.email.data or "", form.password.data or "")
        if member is not None:
            db.session.commit()
            login_user(member, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next"), url_for("main.home")))
        error = "That e-mail and password do not match. Check both and try again."
    return render_template("auth/login.html", form=form, error=error)


@bp.post("/sign-out")
def logout() -> Response:
    logout_user()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))
