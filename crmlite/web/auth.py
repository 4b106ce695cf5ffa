"""Sign in and out, the member's own account (password, sign out everywhere), "Confirm your
password" before changes, and the public page a reset link opens."""

from __future__ import annotations

import math
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from crmlite.database import utcnow
from crmlite.extensions import db, limiter
from crmlite.services import api_tokens, members, password_resets, sessions, sign_in
from crmlite.services.members import PasswordRefused
from crmlite.web import public, safe_next
from crmlite.web.auth_forms import (
    ChangePasswordForm,
    ConfirmPasswordForm,
    ResetPasswordForm,
    SignInForm,
    TokenForm,
)
from crmlite.web.filters import plural
from crmlite.web.sessions import (
    begin_session,
    current_session,
    known_browser_of,
    remember_browser,
)

bp = Blueprint("auth", __name__)

WRONG_PASSWORD = "That e-mail and password do not match. Check both and try again."


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _end_this_browser_session() -> None:
    """Nothing of the signed-in session stays in this browser (its CSRF secret included)."""
    session.clear()
    logout_user()  # after clear(): it asks Flask-Login to delete the remember cookie


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        config = current_app.config
        now = utcnow()
        result = sign_in.sign_in(
            form.email.data or "",
            form.password.data or "",
            address=request.remote_addr or "",
            now=now,
            account_limit=config["LOGIN_ACCOUNT_RATE_LIMIT"],
            known_browser_of=known_browser_of(),
        )
        if result.member is not None:
            remember = bool(form.remember.data)
            lifetime = (
                config["REMEMBER_COOKIE_DURATION"]
                if remember
                else timedelta(hours=config["SESSION_MAX_HOURS"])
            )
            row = sessions.start_session(
                result.member, remember=remember, lifetime=lifetime, now=now
            )
            # A new session: nothing from before signing in carries over (the CSRF secret an
            # attacker may have planted or read included).
            session.clear()
            login_user(result.member, remember=remember)
            begin_session(row)
            db.session.commit()
            response = redirect(safe_next(request.args.get("next"), url_for("main.home")))
            remember_browser(response, result.member)
            return response
        db.session.commit()  # the failed attempt, for the audit log
        if result.refusal == sign_in.THROTTLED:
            minutes = max(1, math.ceil(result.wait_seconds / 60))
            error = (
                "Too many failed sign-ins for this account. Wait "
                f"{plural(minutes, 'minute')} and try again, or ask an "
                "admin for a password reset link."
            )
            return render_template("auth/login.html", form=form, error=error), 429
        error = WRONG_PASSWORD
    return render_template("auth/login.html", form=form, error=error)


@bp.post("/sign-out")
def logout() -> Response:
    """End this sign-in: a copy of its cookies leads nowhere from now on."""
    row = current_session()
    if row is not None:
        sessions.end_session(row)
        db.session.commit()
    _end_this_browser_session()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))


# ---------------------------------------------------------------- the member's own account


def _account_page(
    form: ChangePasswordForm | None = None,
    *,
    token_form: TokenForm | None = None,
    new_secret: str | None = None,
) -> str:
    return render_template(
        "auth/account.html",
        form=form or ChangePasswordForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None),
        tokens=api_tokens.live_tokens(current_user),
        new_secret=new_secret,
        signed_in_count=sessions.sessions_open(current_user, now=utcnow()),
        idle_minutes=current_app.config["SESSION_IDLE_MINUTES"],
        max_hours=current_app.config["SESSION_MAX_HOURS"],
        remember_days=current_app.config["REMEMBER_COOKIE_DURATION"].days,
    )


@bp.get("/account")
def account() -> str:
    return _account_page()


@bp.post("/account/password")
@limiter.limit(_login_limit)
def change_password() -> str | Response:
    """Change your own password: the current one is asked, so no separate confirmation."""
    form = ChangePasswordForm()
    row = current_session()
    if form.validate_on_submit() and row is not None:
        now = utcnow()
        try:
            members.change_password(
                current_user,
                current=form.current_password.data or "",
                new=form.new_password.data or "",
                new_again=form.new_password_again.data or "",
                signed_in=row,
                now=now,
            )
        except PasswordRefused as refused:
            field = getattr(form, refused.field)
            field.errors = [*field.errors, str(refused)]
            return _account_page(form)
        # The cookies now carry this sign-in's new token.
        login_user(row.member, remember=row.remember, duration=row.expires_at - now)
        db.session.commit()
        flash("Password changed. Every other browser signed in as you is signed out.", "success")
        return redirect(url_for("auth.account"))
    return _account_page(form)


@bp.post("/account/sign-out-everywhere")
def sign_out_everywhere() -> Response:
    sessions.sign_out_everywhere(current_user, by=current_user, now=utcnow())
    db.session.commit()
    _end_this_browser_session()
    flash("You are signed out everywhere, this browser included.", "success")
    return redirect(url_for("auth.login"))


@bp.post("/account/tokens")
def create_token() -> str | Response:
    """A personal access token for the API: its secret is shown on this answer only (never
    put in a cookie or a flash message, never stored)."""
    form = TokenForm()
    if form.validate_on_submit():
        try:
            _token, secret = api_tokens.create_token(
                current_user,
                name=form.name.data or "",
                scope=form.scope.data or "",
                now=utcnow(),
            )
        except api_tokens.TokenRefused as refused:
            getattr(form, refused.field).errors = [str(refused)]
            return _account_page(token_form=form)
        db.session.commit()
        return _account_page(new_secret=secret)
    return _account_page(token_form=form)


@bp.post("/account/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Response:
    """Revoke one of your tokens: the program using it is refused from now on."""
    token = api_tokens.revoke_token(current_user, token_id, now=utcnow())
    if token is None:
        abort(404)
    db.session.commit()
    flash(f"The token “{token.name}” is revoked.", "success")
    return redirect(url_for("auth.account"))


# ---------------------------------------------------------------- confirm your password


@bp.route("/confirm-password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def confirm_password() -> str | Response:
    """Type your password again before a change that needs it; then back where you were."""
    target = safe_next(request.args.get("next"), url_for("main.home"))
    form = ConfirmPasswordForm()
    row = current_session()
    if form.validate_on_submit() and row is not None:
        if members.password_matches(current_user, form.password.data or ""):
            sessions.confirm_password(row, now=utcnow())
            db.session.commit()
            return redirect(target)
        form.password.errors = [*form.password.errors, "That is not your password."]
    return render_template(
        "auth/confirm_password.html",
        form=form,
        target=target,
        minutes=current_app.config["FRESH_PASSWORD_MINUTES"],
    )


# ---------------------------------------------------------------- a reset link (public)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def reset_password(token: str) -> str | Response | tuple[str, int]:
    try:
        member = password_resets.member_for_token(token)
    except password_resets.LinkRefused as refused:
        return render_template("auth/reset_password.html", form=None, problem=str(refused)), 410
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            password_resets.reset_password(
                token,
                new=form.new_password.data or "",
                new_again=form.new_password_again.data or "",
                now=utcnow(),
            )
        except PasswordRefused as refused:
            field = getattr(form, refused.field)
            field.errors = [*field.errors, str(refused)]
        else:
            db.session.commit()
            if current_user.is_authenticated:
                _end_this_browser_session()
            flash("Your new password is set: sign in with it.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form, member=member, problem=None)


@bp.after_request
def keep_tokens_private(response: Response) -> Response:
    """A reset link's page is never cached, and its URL (the token) never sent on."""
    if request.endpoint == "auth.reset_password":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
