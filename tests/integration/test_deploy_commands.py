"""The image's command lines, run outside a container the way the image runs
them: read from the Dockerfile (its ENV, its default CMD, its HEALTHCHECK)
and from docker-compose.yml (each service's command and environment), started
in a copy of exactly the files the `.dockerignore` lets into the image, with
the image's and compose's environment variables. Only what cannot be the same
outside a container differs, each named in ``OUTSIDE_A_CONTAINER``.

The release step migrates, the Kubernetes pods' wait for migrations ends at
once, web answers /health and /health/live with 200,
passes the HEALTHCHECK and serves the login page, a worker registers with RQ and the cron process
with RQ's cron registry, and all three stop on SIGTERM.

Not as the image's non-root user: the test's interpreter lives under /root
(0700), which another user cannot run; the Dockerfile's USER is checked by
tests/unit/test_deploy_files.py."""

from __future__ import annotations

import fnmatch
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
import requests
import yaml
from rq import Worker

from tests.conftest import TEST_SECRET_KEY
from tests.unit.deploy_helpers import (
    ROOT,
    compose,
    compose_app_environment,
    dockerfile_instructions,
    exec_form,
    final_stage,
    stage_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

VENV_BIN = ROOT / ".venv" / "bin"
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path (or a
    directory above it) decides; `!` lets it back in."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        if glob.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, glob[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, glob) for prefix in prefixes)
        if hit:
            ignored = not negated
    return ignored


def image_tree(target: Path) -> Path:
    """The build context as `docker build` sends it: the repository's files
    less what `.dockerignore` keeps out."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    listed = subprocess.run(  # noqa: S603, S607 (git, on our own tree)
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for path in filter(None, listed.split("\0")):
        if not _ignored(path, patterns) and (ROOT / path).is_file():
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, target / path)
    return target


def test_the_ignore_rules_read_as_docker_reads_them() -> None:
    patterns = ["*", "!webapp/", "**/__pycache__"]
    assert not _ignored("webapp/routes.py", patterns)
    assert _ignored("webapp/__pycache__/routes.cpython-311.pyc", patterns)
    assert _ignored(".env", patterns) and _ignored("tests/conftest.py", patterns)


@pytest.fixture
def image(clean_state, tmp_path: Path) -> dict:
    """The image's working directory and environment, outside a container."""
    database_url, redis_url = clean_state
    runtime = final_stage(dockerfile_instructions())
    workdir = [args for word, args in runtime if word == "WORKDIR"][-1]
    env = stage_env(runtime)
    env.update(compose_app_environment({"SECRET_KEY": TEST_SECRET_KEY, "POSTGRES_PASSWORD": "unused"}))
    port = _free_port()
    outside_a_container = {
        # the image's virtualenv is /opt/venv; here it is the repository's
        "PATH": env["PATH"].replace("/opt/venv/bin", str(VENV_BIN)),
        # compose's hosts `postgres` and `redis` exist only on its network
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # a container has its own 0.0.0.0:8000; a test machine has loopback and a free port
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # /app/instance and /tmp/prometheus are the image's; folders of this test's instead
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    assert set(outside_a_container) <= set(env), "only variables the image or compose sets are replaced"
    env.update(outside_a_container)
    (tmp_path / "prometheus").mkdir()  # the image makes its folder at build time
    env["BCRYPT_ROUNDS"] = os.environ.get("BCRYPT_ROUNDS", "4")
    return {
        "env": env,
        "cwd": image_tree(tmp_path / workdir.lstrip("/")),
        "runtime": runtime,
        "url": f"http://127.0.0.1:{port}",
        "redis_url": redis_url,
        "logs": tmp_path,
    }


def _start(image: dict, argv: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
    log = (image["logs"] / f"{name}.log").open("wb")
    return subprocess.Popen(  # noqa: S603 (the image's own command line)
        argv,
        cwd=image["cwd"],
        env=env or image["env"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        executable=shutil.which(argv[0], path=image["env"]["PATH"]),
    )


def _log(image: dict, name: str) -> str:
    path = image["logs"] / f"{name}.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise
    return int(proc.returncode)


def _wait_for(check, proc: subprocess.Popen, what: str, image: dict, name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{name} exited ({proc.returncode}):\n{_log(image, name)}"
        try:
            if check():
                return
        except (requests.RequestException, redis.RedisError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} not within {START_TIMEOUT_S} s:\n{_log(image, name)}")


def test_the_image_commands_run_and_web_answers_health(image: dict) -> None:
    services = compose()["services"]
    web_command = exec_form(image["runtime"], "CMD")
    assert services["web"]["command"] == web_command, "the image's default command is compose's web"

    release = subprocess.run(  # noqa: S603 (compose's one-shot migrate command)
        services["migrate"]["command"], cwd=image["cwd"], env=image["env"], capture_output=True, text=True, timeout=120
    )
    assert release.returncode == 0, release.stdout + release.stderr
    assert "up to date" in release.stdout or "applied" in release.stdout

    # Kubernetes pods wait in this init container until no migration is pending: now there is none.
    manifests = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "web.yaml").read_text(encoding="utf-8"))
    web_pod = next(doc for doc in manifests if doc["kind"] == "Deployment")["spec"]["template"]["spec"]
    wait = subprocess.run(  # noqa: S603 (the manifests' own init command)
        web_pod["initContainers"][0]["command"], cwd=image["cwd"], env=image["env"], capture_output=True, timeout=60
    )
    assert wait.returncode == 0 and b"waiting" not in wait.stdout, wait.stdout + wait.stderr

    web = _start(image, web_command, "web")
    # compose's worker serves its own metrics (its container's directory is its own); here on a free port.
    assert services["worker"]["environment"]["METRICS_WORKER_PORT"]
    metrics_port = _free_port()
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    worker_env = {**image["env"], "METRICS_WORKER_PORT": str(metrics_port)}
    worker = _start(image, services["worker"]["command"], "worker", worker_env)
    cron = _start(image, services["cron"]["command"], "cron")
    client = redis.Redis.from_url(image["redis_url"])
    try:
        _wait_for(lambda: requests.get(image["url"] + "/health", timeout=2).ok, web, "/health 200", image, "web")
        assert requests.get(image["url"] + "/health", timeout=5).json()["status"] == "ok"
        assert requests.get(image["url"] + "/health/live", timeout=5).status_code == 200
        # A page, as the TLS proxy in front forwards it (compose trusts one hop): templates are in the image.
        login = requests.get(image["url"] + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=5)
        assert login.status_code == 200 and "<form" in login.text, login.status_code
        healthcheck = subprocess.run(  # noqa: S603 (the Dockerfile's HEALTHCHECK)
            exec_form(image["runtime"], "HEALTHCHECK"), cwd=image["cwd"], env=image["env"], timeout=30
        )
        assert healthcheck.returncode == 0, "the Dockerfile's HEALTHCHECK fails against a healthy web"
        _wait_for(lambda: Worker.all(connection=client), worker, "a registered RQ worker", image, "worker")
        # Its startup checks opened the pool: the worker's own port says so.
        _wait_for(
            lambda: "database_pool_max_connections" in requests.get(metrics_url, timeout=2).text,
            worker,
            "the worker's metrics port",
            image,
            "worker",
        )
        _wait_for(lambda: client.keys("rq:cron_scheduler*"), cron, "the cron scheduler", image, "cron")
    finally:
        codes = {name: _stop(proc) for name, proc in (("web", web), ("worker", worker), ("cron", cron))}
        client.close()
    assert codes["web"] == 0, _log(image, "web")
    assert all(code in (0, -signal.SIGTERM) for code in codes.values()), codes
