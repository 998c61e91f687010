"""Command-line tools: ``flask db upgrade|status|schema``, ``flask users create-admin``,
``flask tokens rotate``, ``flask demo advance`` and ``flask doctor``."""

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
demo_cli = AppGroup("demo", help="The demo channel.")


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


@db_cli.command("schema")
def db_schema() -> None:
    """Rewrite sql/schema.sql: migrate a scratch database from scratch, dump it, drop it."""
    from flask import current_app

    from reliability import schema_file

    path = schema_file.write(current_app.config["DATABASE_URL"])
    click.echo(f"wrote {path.relative_to(path.parent.parent)}")


@users_cli.command("create-admin")
@click.option("--email", prompt=True, help="Email address of the admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def create_admin(email: str, password_stdin: bool) -> None:
    """Create an admin account, or make an existing account an admin."""
    from reliability.db import read, transaction
    from webapp.accounts import store
    from webapp.accounts.passwords import hash_password, policy_problem

    existing = read(store.find_by_email, email)
    if existing:
        with transaction() as cur:
            store.set_role(cur, existing["id"], "admin", actor_id=None, actor_email="cli")
        click.echo(f"{existing['email']} is now an admin")
        return
    password = _read_password(password_stdin)
    problem = policy_problem(password, email)
    if problem:
        raise click.ClickException(problem)
    password_hash = hash_password(password)
    with transaction() as cur:
        user = store.create_user(cur, email, password_hash, role="admin")
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

    from optimizer.youtube import tokens
    from reliability.crypto import InvalidToken, TokenCipher
    from reliability.db import transaction

    try:
        cipher = TokenCipher(current_app.config["TOKEN_ENCRYPTION_KEY"])
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    with transaction() as cur:
        rows = tokens.all_locked_encrypted_tokens(cur)
        try:
            for row in rows:
                refresh = cipher.rotate(row["refresh_token_enc"]) if row["refresh_token_enc"] else None
                tokens.replace_encrypted_tokens(cur, row["channel_id"], cipher.rotate(row["access_token_enc"]), refresh)
        except InvalidToken:
            raise click.ClickException(
                f"channel {row['channel_id']}: no configured key opens its tokens; nothing was changed"
            ) from None
    click.echo(f"re-encrypted the tokens of {len(rows)} channel(s) with the newest key")


@demo_cli.command("advance")
@click.option("--channel", "channel_id", type=int, required=True, help="The demo channel's id (in its page's URL).")
@click.option("--days", type=click.IntRange(1, 120), default=7, show_default=True, help="How far to move its clock.")
def advance_demo(channel_id: int, days: int) -> None:
    """Move a demo channel's clock DAYS ahead: its analytics are generated up
    to then and its experiments judged on each day, so a change applied on
    it can be seen going from cooling to a verdict (optimizer/demo_clock.py)."""
    from datetime import UTC, datetime

    from flask import current_app

    from optimizer import demo_clock
    from optimizer.verdict import VerdictSettings
    from reliability.db import transaction

    today = datetime.now(tz=UTC).date()
    try:
        with transaction() as cur:
            moved = demo_clock.advance(cur, channel_id, today, days, VerdictSettings.from_config(current_app.config))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    looks = moved.get("looks", 0)
    click.echo(f"channel {channel_id}: {moved['rows_added']} video-days of numbers added, {looks} weekly looks judged")


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def doctor(as_json: bool) -> None:
    """Run the startup checks (reliability/startup_checks.py) and print the
    report; exit status 1 when a critical check fails. The report is kept
    for the admin page like a starting process's."""
    import json

    from flask import current_app

    from reliability import startup_report

    report = startup_report.run_checks(component="doctor")
    startup_report.save(report, current_app.config["REDIS_URL"])
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else startup_report.table(report))
    if not report.ok:
        sys.exit(1)


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(doctor)
