"""Startup checks (issue 15, item 1): each check fails for its own reason
and names it; a production start with Redis down stops with one line and
exit status 1 (real worker and gunicorn processes); elsewhere it warns; the
report is kept for the admins' System page; `flask doctor` prints it as a
table and as JSON."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
import redis

from reliability import startup_report
from reliability.config import SETTINGS, database_url_for
from reliability.startup_checks import CHECKS, CheckFailed, check_packages, check_python
from tests.fakes.anthropic.fake import fake_anthropic_fixture
from tests.fakes.serpapi.fake import fake_serpapi_fixture
from tests.helpers import STRONG_PASSWORD, login, register

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "127.0.0.1:1"  # nothing listens on port 1: a real refused connection
PRODUCTION_SECRET_KEY = "prod-secret-key-0123456789-abcdefghijklm"
# Every check but the installed packages, which follow requirements.txt and
# are checked on a file of the test's own below.
ENVIRONMENT_CHECKS = [check for check in CHECKS if check.name != "packages"]

fake_anthropic = fake_anthropic_fixture(api_keys=("sk-ant-startup-check-0123456789",))
fake_serpapi = fake_serpapi_fixture()


@pytest.fixture
def unwritable(tmp_path) -> str:
    """A folder nobody can make, even root: its parent is a regular file."""
    (tmp_path / "a-file").write_text("not a folder")
    return str(tmp_path / "a-file" / "metrics")


@pytest.fixture
def environ(app_config, tmp_path):
    """A good environment: the test's servers, an instance folder of its own."""
    return {
        "ENVIRONMENT": "test",
        "SECRET_KEY": app_config["SECRET_KEY"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "REDIS_URL": app_config["REDIS_URL"],
        "INSTANCE_DIR": str(tmp_path / "instance"),
    }


def _failed(report) -> list[str]:
    return [r.name for r in report.results if r.status == "failed"]


def test_a_good_installation_passes_every_check(environ, fake_anthropic, fake_serpapi, tmp_path):
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    environ.update(fake_anthropic.settings(), **fake_serpapi.settings(), PROMETHEUS_MULTIPROC_DIR=str(metrics))
    report = startup_report.run_checks(environ, checks=ENVIRONMENT_CHECKS)
    assert _failed(report) == []
    assert [r.status for r in report.results] == ["ok"] * len(report.results)
    assert [r.name for r in report.results][:2] == ["python", "settings"]
    assert [r.path for r in fake_anthropic.requests] == ["/v1/models"]
    assert [r.path for r in fake_serpapi.requests] == ["/account"]
    assert list(metrics.iterdir()) == []  # the writability probe leaves nothing behind


def _empty_database(app_config) -> str:
    name = f"yco_unmigrated_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(app_config["DATABASE_URL"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return name


def _drop_database(app_config, name: str) -> None:
    conn = psycopg2.connect(app_config["DATABASE_URL"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def test_each_check_fails_for_its_own_reason_and_names_it(environ, app_config, tmp_path, fake_anthropic, fake_serpapi):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    unmigrated = _empty_database(app_config)
    try:
        cases = {
            "settings": {"DATABASE_POOL_SIZE": "ten"},
            "postgresql": {"DATABASE_URL": f"postgresql://postgres@{CLOSED}/none"},
            "migrations": {"DATABASE_URL": database_url_for(app_config["DATABASE_URL"], unmigrated)},
            "redis": {"REDIS_URL": f"redis://{CLOSED}/0"},
            "instance_dir": {"INSTANCE_DIR": str(a_file / "instance")},
            "metrics_dir": {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "no-such-folder")},
            "anthropic": {**fake_anthropic.settings(), "ANTHROPIC_API_KEY": "sk-ant-wrong-key"},
            "serpapi": {**fake_serpapi.settings(), "SERPAPI_API_KEY": "wrong-key"},
        }
        reports = {
            name: startup_report.run_checks({**environ, **change}, checks=ENVIRONMENT_CHECKS)
            for name, change in cases.items()
        }
    finally:
        _drop_database(app_config, unmigrated)
    assert {name: _failed(report) for name, report in reports.items()} == {name: [name] for name in cases}
    details = {name: next(r.detail for r in report.results if r.name == name) for name, report in reports.items()}
    assert details["settings"] == "DATABASE_POOL_SIZE: expected a whole number from 1 to 500, got 'ten'"
    assert "Connection refused" in details["postgresql"] and "Connection refused" in details["redis"]
    assert details["migrations"].startswith(f"{len(list((ROOT / 'sql' / 'migrations').glob('*.sql')))} not applied")
    assert "is not writable" in details["instance_dir"] and "no-such-folder" in details["metrics_dir"]
    assert details["anthropic"].startswith("HTTP 401") and "Invalid API key" in details["serpapi"]
    # What a failure leaves unchecked is skipped, not failed a second time.
    assert {r.name: r.status for r in reports["postgresql"].results}["migrations"] == "skipped"
    assert {r.status for r in reports["settings"].results if r.name != "python" and r.name != "settings"} == {"skipped"}
    # Claude and SerpAPI are warnings: the report is still ok without them.
    assert reports["anthropic"].ok and reports["serpapi"].ok
    assert not any(reports[name].ok for name in cases if name not in ("anthropic", "serpapi"))
    assert "sk-ant-wrong-key" not in json.dumps([report.as_dict() for report in reports.values()])


def test_the_python_and_package_checks_fail_for_their_own_reasons(tmp_path):
    with pytest.raises(CheckFailed, match=r"Python 3\.\d+\.\d+, expected 99\.0 or newer"):
        check_python({}, minimum=(99, 0))
    assert check_python({}).startswith("Python 3.")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("Flask==0.0.1\nno-such-package-yco==1.0\n")
    with pytest.raises(CheckFailed, match="not installed or not importable: no-such-package-yco$"):
        check_packages({}, requirements)
    requirements.write_text("# pinned\nFlask==0.0.1\nredis==8.1.0\n")
    assert check_packages({}, requirements).startswith("2 packages importable; differs from requirements.txt: Flask ")


def _process_env(**changes: str) -> dict[str, str]:
    names = {setting.name for setting in SETTINGS} | {"FLASK_DEBUG", "SOURCE_VERSION", "HEROKU_SLUG_COMMIT"}
    env = {key: value for key, value in os.environ.items() if key not in names}
    env.update(changes)
    return env


def _production_env_with_redis_down(app_config, tmp_path) -> dict[str, str]:
    return _process_env(
        ENVIRONMENT="production",
        SECRET_KEY=PRODUCTION_SECRET_KEY,
        DATABASE_URL=app_config["DATABASE_URL"],
        REDIS_URL=f"redis://{CLOSED}/0",
        INSTANCE_DIR=str(tmp_path / "instance"),
    )


REDIS_DOWN_LINE = "startup check failed: redis: Error 111 connecting to 127.0.0.1:1. Connection refused."


def _start(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """A process started as a deployment starts it; it is expected to stop by itself."""
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_a_production_worker_with_redis_down_stops_with_one_line_and_status_1(app_config, tmp_path):
    env = _production_env_with_redis_down(app_config, tmp_path)
    done = _start([sys.executable, "-m", "jobs.worker", "--burst"], env)
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.splitlines() == [REDIS_DOWN_LINE]
    assert done.stdout == ""


@pytest.mark.parametrize("component", ["jobs.worker", "jobs.cron"])
def test_a_process_with_an_invalid_setting_stops_with_one_line_and_status_1(app_config, tmp_path, component):
    env = _production_env_with_redis_down(app_config, tmp_path)
    env["DATABASE_POOL_SIZE"] = "abc"
    done = _start([sys.executable, "-m", component, *(["--burst"] if component == "jobs.worker" else [])], env)
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.splitlines() == [
        "configuration error: DATABASE_POOL_SIZE: expected a whole number from 1 to 500, got 'abc'"
    ]


def test_a_production_web_server_with_redis_down_stops_with_one_line_and_status_1(app_config, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = _production_env_with_redis_down(app_config, tmp_path)
    env.update(GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    done = _start([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], env)
    assert done.returncode == 1, done.stderr[-2000:]
    # gunicorn announces itself before it calls on_starting; after that, our one line.
    banner, *ours = (done.stdout + done.stderr).splitlines()
    assert re.search(r"\[INFO\] Starting gunicorn ", banner), banner
    assert ours == [REDIS_DOWN_LINE]


def test_outside_staging_and_production_a_failed_check_warns_and_start_up_goes_on(environ, unwritable, caplog):
    environ["PROMETHEUS_MULTIPROC_DIR"] = unwritable
    report = startup_report.enforce("worker", environ)  # no SystemExit
    assert _failed(report) == ["metrics_dir"] or _failed(report) == ["packages", "metrics_dir"]
    assert any(r.getMessage().startswith("startup check failed: metrics_dir: ") for r in caplog.records)


def test_the_report_is_kept_and_shown_to_admins_only(app, environ, unwritable):
    environ["PROMETHEUS_MULTIPROC_DIR"] = unwritable
    startup_report.enforce("worker", environ)
    kept = startup_report.load_all(redis.Redis.from_url(environ["REDIS_URL"]))
    assert [r.component for r in kept] == ["worker"]
    member = app.test_client()
    register(member, "member@example.com")
    assert member.get("/admin/system").status_code == 404
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "--email", "boss@example.com", "--password-stdin"], input=STRONG_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    admin = app.test_client()
    login(admin, "boss@example.com")
    page = admin.get("/admin/system").get_data(as_text=True)
    assert 'id="report-worker"' in page
    assert "metrics_dir" in page and f"{unwritable} is not writable" in page


def _doctor(*args: str, **changes: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "doctor", *args],
        cwd=ROOT,
        env=_process_env(**changes),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_flask_doctor_prints_a_table_and_json(environ, fake_anthropic):
    good = {**environ, **fake_anthropic.settings()}
    table = _doctor(**good)
    assert table.returncode == 0, table.stderr[-2000:]
    lines = table.stdout.splitlines()
    assert lines[1].split() == ["check", "level", "status", "detail"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[2:-1]}
    assert rows["redis"] == ["critical", "ok"] and rows["anthropic"] == ["warning", "ok"]
    assert rows["serpapi"] == ["warning", "skipped"]  # no key, nothing to check
    assert lines[-1] == "result: ok"
    as_json = _doctor("--json", **good)
    report = json.loads(as_json.stdout)
    assert report["ok"] is True and report["component"] == "doctor" and report["environment"] == "test"
    assert [r["name"] for r in report["results"]] == [row for row in rows]
    assert fake_anthropic.settings()["ANTHROPIC_API_KEY"] not in as_json.stdout


def test_flask_doctor_exits_1_naming_a_failed_critical_check(environ):
    done = _doctor(**{**environ, "REDIS_URL": f"redis://{CLOSED}/0"})
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "result: FAILED: redis"
