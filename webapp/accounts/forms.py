"""Account forms. CSRF comes with FlaskForm; the password policy is ours."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, Field, HiddenField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from webapp.accounts.passwords import MAX_LENGTH, policy_problem
from webapp.accounts.store import normalize_email
from webapp.inputs import TextForm


def _normalized(value: object) -> object:
    # Before the validators run, so that length and syntax are checked on
    # what is stored and looked up (NFKC can change the length).
    return normalize_email(value) if isinstance(value, str) else value


def _email_field() -> EmailField:
    return EmailField(
        "Email",
        filters=[_normalized],
        validators=[
            DataRequired("Enter your email address."),
            Length(max=254),
            Email("Enter a valid email address.", check_deliverability=False),
        ],
        render_kw={"autocomplete": "email", "autocapitalize": "none", "spellcheck": "false"},
    )


class LoginForm(TextForm):
    email = _email_field()
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me logged in on this device")
    next = HiddenField()


class _NewPasswordMixin:
    def validate_password(self, field: Field) -> None:
        email = getattr(getattr(self, "email", None), "data", "") or ""
        problem = policy_problem(field.data or "", email)
        if problem:
            raise ValidationError(problem)


def _new_password_field(label: str, missing: str, description: str) -> PasswordField:
    """A password being chosen (the policy is _NewPasswordMixin's)."""
    return PasswordField(
        label,
        validators=[DataRequired(missing)],
        render_kw={"autocomplete": "new-password"},
        description=description,
    )


def _confirm_field(label: str, missing: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired(missing), EqualTo("password", "The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )


class RegisterForm(_NewPasswordMixin, TextForm):
    email = _email_field()
    password = _new_password_field(
        "Password", "Choose a password.", "At least 12 characters. Length matters more than symbols."
    )
    confirm = _confirm_field("Repeat the password", "Repeat the password.")


class ChangePasswordForm(_NewPasswordMixin, TextForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    password = _new_password_field("New password", "Choose a new password.", "At least 12 characters.")
    confirm = _confirm_field("Repeat the new password", "Repeat the new password.")


class DeleteAccountForm(TextForm):
    current_password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password to confirm.")],
        render_kw={"autocomplete": "current-password"},
    )
    confirm = BooleanField(
        "I understand that this deletes my account and cannot be undone",
        validators=[DataRequired("Tick the box to confirm.")],
    )


class ForgotPasswordForm(TextForm):
    email = _email_field()


class ResetPasswordForm(_NewPasswordMixin, TextForm):
    password = _new_password_field("New password", "Choose a new password.", "At least 12 characters.")
    confirm = _confirm_field("Repeat the new password", "Repeat the new password.")
