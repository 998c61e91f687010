"""Command-line tools: ``flask db upgrade|status`` and ``flask users create-admin``."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from reliability import migrations
from reliability.errors import AppError

db_cli = AppGroup("db", help="Database schema.")
users_cli = AppGroup("users", help="User accounts.")
tokens_cli = AppGroup("tokens", help="Encrypted OAuth tokens.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (safe to run twice or from two processes)."""
    try:
        applied = migrations.upgrade()
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@db_cli.command("status")
def db_status() -> None:
    """List migrations and whether each is applied."""
    for name, applied in migrations.status():
        click.echo(f"{'applied' if applied else 'pending'}  {name}")


@users_cli.command("create-admin")
@click.option("--email", prompt=True, help="Email address of the admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def create_admin(email: str, password_stdin: bool) -> None:
    """Create an admin account, or make an existing account an admin."""
    from webapp.accounts import store
    from webapp.accounts.passwords import hash_password, policy_problem

    existing = store.find_by_email(email)
    if existing:
        store.set_role(existing["id"], "admin", actor_id=None, actor_email="cli")
        click.echo(f"{existing['email']} is now an admin")
        return
    password = _read_password(password_stdin)
    problem = policy_problem(password, email)
    if problem:
        raise click.ClickException(problem)
    user = store.create_user(email, hash_password(password), role="admin")
    click.echo(f"created admin {user['email']}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@tokens_cli.command("rotate")
def rotate_tokens() -> None:
    """Re-encrypt every stored OAuth token with the first TOKEN_ENCRYPTION_KEY.
    Put the new key first, run this, then drop the old key."""
    from flask import current_app

    from reliability.crypto import InvalidToken, TokenCipher
    from reliability.db import transaction

    try:
        cipher = TokenCipher(current_app.config["TOKEN_ENCRYPTION_KEY"])
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    with transaction() as cur:
        cur.execute("SELECT channel_id, access_token_enc, refresh_token_enc FROM oauth_tokens FOR UPDATE")
        rows = cur.fetchall()
        try:
            for row in rows:
                refresh = cipher.rotate(row["refresh_token_enc"]) if row["refresh_token_enc"] else None
                cur.execute(
                    "UPDATE oauth_tokens SET access_token_enc = %s, refresh_token_enc = %s, updated_at = now() WHERE channel_id = %s",
                    (cipher.rotate(row["access_token_enc"]), refresh, row["channel_id"]),
                )
        except InvalidToken:
            raise click.ClickException(
                f"channel {row['channel_id']}: no configured key opens its tokens; nothing was changed"
            ) from None
    click.echo(f"re-encrypted the tokens of {len(rows)} channel(s) with the newest key")


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)

