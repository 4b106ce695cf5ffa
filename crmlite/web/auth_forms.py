"""Sign-in and password forms. The password rule itself is ``members.password_refusal``:
the views ask the services, which say which field a refusal belongs to."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, SelectChoice
from wtforms.validators import DataRequired, Length

from crmlite.models import TokenScope
from crmlite.services.members import MAX_PASSWORD_LENGTH, PASSWORD_HINT
from crmlite.web import strip
from crmlite.web.fields import EmailAddress, LineField


def _password(label: str, message: str, autocomplete: str, hint: str = "") -> PasswordField:
    return PasswordField(
        label,
        description=hint,
        validators=[DataRequired(message), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": autocomplete},
    )


class SignInForm(FlaskForm):
    email = EmailField(
        "E-mail",
        filters=[strip],
        validators=[
            DataRequired("Enter your e-mail address."),
            EmailAddress("Enter a valid e-mail address."),
            Length(max=254),
        ],
        # The e-mail is the sign-in name: password managers pair it with the password.
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this computer")


class ConfirmPasswordForm(FlaskForm):
    password = _password("Password", "Enter your password.", "current-password")


class ChangePasswordForm(FlaskForm):
    current_password = _password(
        "Current password", "Enter your current password.", "current-password"
    )
    new_password = _password(
        "New password", "Enter a new password.", "new-password", hint=PASSWORD_HINT
    )
    new_password_again = _password(
        "New password again", "Type the new password a second time.", "new-password"
    )


class ResetPasswordForm(FlaskForm):
    new_password = _password(
        "New password", "Enter a new password.", "new-password", hint=PASSWORD_HINT
    )
    new_password_again = _password(
        "New password again", "Type the new password a second time.", "new-password"
    )


class TokenForm(FlaskForm):
    """A new personal access token for the API: what it is for, and what it may do."""

    name = LineField(
        "What is it for?",
        description="e.g. “Accounting sync”: you will see it in this list.",
        validators=[DataRequired("Name the token: what will use it?"), Length(max=80)],
    )
    scope = RadioField(
        "It may",
        choices=[SelectChoice(s.value, s.label) for s in TokenScope],
        default=TokenScope.READ.value,
    )
