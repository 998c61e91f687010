"""The container and platform files: the Dockerfile (hadolint clean, two
stages, compilers only in the first, not root, a liveness HEALTHCHECK), the
compose file (valid against the Compose Specification's schema, every
service and health-gated start present), Heroku's app.json and Python
version, and the Procfile's four commands repeated word for word by each.

Kubernetes and systemd have their own files (test_deploy_k8s.py,
test_deploy_systemd.py); the image's commands are run outside a container by
tests/integration/test_deploy_commands.py."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

import jsonschema

from reliability.config import SETTINGS
from tests.unit.deploy_helpers import (
    PROCESS_TYPES,
    ROOT,
    compose,
    compose_schema,
    dockerfile_instructions,
    exec_form,
    final_stage,
    normalized,
    procfile,
    stage_env,
    tool,
)

APP_SERVICES = {"migrate": "release", "web": "web", "worker": "worker", "cron": "cron"}


def test_the_procfile_has_the_four_commands() -> None:
    commands = procfile()
    assert tuple(commands) == PROCESS_TYPES
    assert commands["release"] == ["flask", "--app", "wsgi", "db", "upgrade"]


# -- Dockerfile --------------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(  # noqa: S603 (our own file, a pinned tool)
        [tool("hadolint"), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_image_is_built_in_two_stages_and_runs_as_nobody_special() -> None:
    instructions = dockerfile_instructions()
    froms = [args for word, args in instructions if word == "FROM"]
    assert len(froms) == 2, "a build stage and a runtime stage"
    assert all(re.fullmatch(r"python:3\.11-slim-\w+( AS \w+)?", f) for f in froms), froms
    build, runtime = instructions[: instructions.index(("FROM", froms[1]))], final_stage(instructions)
    assert any("build-essential" in args for word, args in build if word == "RUN")
    assert any("pip wheel" in args for word, args in build if word == "RUN"), "wheels are built in the first stage"
    runtime_runs = " ".join(args for word, args in runtime if word == "RUN")
    assert "apt-get" not in runtime_runs and "pip " not in runtime_runs, "no compiler nor pip install in the runtime"
    assert ("COPY", "--from=build /opt/venv /opt/venv") in runtime
    user = [args for word, args in runtime if word == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0"), "the processes must not run as root"
    assert stage_env(runtime)["PATH"].startswith("/opt/venv/bin:")


def test_the_default_command_is_web_and_the_healthcheck_asks_liveness() -> None:
    runtime = final_stage(dockerfile_instructions())
    assert not [w for w, _ in runtime if w == "ENTRYPOINT"], "the command alone chooses the process"
    assert exec_form(runtime, "CMD") == procfile()["web"]
    health = exec_form(runtime, "HEALTHCHECK")
    assert "/health/live" in " ".join(health)


def test_dockerignore_lets_in_the_code_and_nothing_secret() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: everything is out unless named"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for needed in ("webapp", "jobs", "optimizer", "reliability", "sql", "static", "templates"):
        assert needed in allowed
    for needed in ("requirements.txt", "pyproject.toml", "wsgi.py", "gunicorn.conf.py"):
        assert needed in allowed
    assert not allowed & {".env", ".venv", ".git", "instance", "tests"}


# -- docker-compose.yml ------------------------------------------------------------


def test_the_compose_file_follows_the_compose_specification() -> None:
    errors = sorted(jsonschema.Draft7Validator(compose_schema()).iter_errors(compose()), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_check_would_catch_a_mistake() -> None:
    broken = compose()
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert list(jsonschema.Draft7Validator(compose_schema()).iter_errors(broken))


def test_compose_runs_the_procfile_commands() -> None:
    services = compose()["services"]
    commands = procfile()
    for service, process in APP_SERVICES.items():
        assert services[service]["command"] == commands[process], service


def test_compose_starts_in_order_behind_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == set(APP_SERVICES) | {"postgres", "redis"}
    for backing in ("postgres", "redis"):
        assert services[backing]["healthcheck"]["test"], backing
        assert services[backing]["volumes"], f"{backing} keeps its data in a volume"
    assert set(compose()["volumes"]) == {"pgdata", "redisdata"}
    for service in APP_SERVICES:
        depends = services[service]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", service
        assert depends["redis"]["condition"] == "service_healthy", service
        if service != "migrate":
            assert depends["migrate"]["condition"] == "service_completed_successfully", service
    assert services["migrate"]["restart"] == "no", "a one-shot"
    assert "/health/live" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_workers_scale_and_cron_stays_one() -> None:
    services = compose()["services"]
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert services["cron"]["deploy"]["replicas"] == 1
    environment = compose()["x-app"]["environment"]
    assert environment["ENVIRONMENT"] == "production"
    assert environment["DATABASE_URL"].endswith("@postgres:5432/yco")
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert ":?" in environment["SECRET_KEY"], "no default secret: compose refuses to start without one"
    assert services["web"]["ports"] == ["127.0.0.1:${WEB_PORT:-8000}:8000"], "only the local TLS proxy reaches it"


def test_compose_workers_serve_their_metrics_on_their_own_port() -> None:
    """Each container has its own PROMETHEUS_MULTIPROC_DIR, so the web's
    /metrics holds no worker figure: the worker serves them on
    METRICS_WORKER_PORT, kept inside the project's network."""
    services = compose()["services"]
    worker = services["worker"]
    port = worker["environment"]["METRICS_WORKER_PORT"]
    assert worker["expose"] == [port] and "ports" not in worker
    # The worker keeps every setting the other app services have.
    assert worker["environment"].items() >= compose()["x-app"]["environment"].items()
    assert "METRICS_WORKER_PORT" not in services["web"]["environment"]


# -- Heroku ------------------------------------------------------------------------


def test_app_json_deploys_the_procfile_with_its_addons() -> None:
    app = json.loads((ROOT / "app.json").read_text(encoding="utf-8"))
    assert set(app["formation"]) == set(PROCESS_TYPES) - {"release"}, "release is a phase, not a dyno"
    assert app["formation"]["cron"]["quantity"] == 1
    plans = {addon["plan"].split(":")[0] for addon in app["addons"]}
    assert plans == {"heroku-postgresql", "heroku-redis"}
    env = app["env"]
    assert env["ENVIRONMENT"]["value"] == "production"
    assert env["SECRET_KEY"]["generator"] == "secret"
    assert env["HOST"]["value"] == "0.0.0.0", "gunicorn.conf.py listens on loopback unless told"  # noqa: S104
    assert env["REDIS_TLS_VERIFY"]["value"] == "false", "Heroku's Redis certificate is self-signed"
    assert set(env) <= {setting.name for setting in SETTINGS} | {"HOST"}, "only real settings"
    assert [b["url"] for b in app["buildpacks"]] == ["heroku/python"]


def test_one_python_version_everywhere() -> None:
    version = (ROOT / ".python-version").read_text(encoding="utf-8").strip()
    with (ROOT / "pyproject.toml").open("rb") as handle:
        assert tomllib.load(handle)["project"]["requires-python"] == f">={version}"
    froms = [args for word, args in dockerfile_instructions() if word == "FROM"]
    assert all(f.startswith(f"python:{version}-") for f in froms)


def test_every_platform_runs_the_same_four_commands() -> None:
    """The summary of the per-platform checks: one set of command lines."""
    from tests.unit.test_deploy_k8s import rendered_commands
    from tests.unit.test_deploy_systemd import unit_commands

    expected = {name: normalized(argv) for name, argv in procfile().items()}
    services = compose()["services"]
    assert {APP_SERVICES[s]: normalized(services[s]["command"]) for s in APP_SERVICES} == expected
    assert {k: normalized(v) for k, v in unit_commands().items()} == expected
    assert {k: normalized(v) for k, v in rendered_commands().items()} == expected
