"""Fixtures of the fault suite (``pytest -m faults``, ``make faults``).

Every case runs the real stack (gunicorn, RQ worker and cron under the real
supervisor, PostgreSQL, Redis, the fakes of outside APIs), injects one fault
by killing or stopping real processes, and checks the outcome from the
database. The servers are the suite's own (``services``, one pair for the
session, data emptied before each case), never the machine's.

    def test_x(services, app_stack, fake_claude):
        stack = app_stack(LLM_MAX_CONCURRENCY="1")       # started, serving
        http = steps.creator(stack)                       # a logged-in creator (tests/faults/steps.py)
        services.kill_redis(); services.start_redis()
        wait_for_db(services.database_url, "SELECT ...", predicate, 120, "what")
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.fakes.anthropic import fake_anthropic_fixture
from tests.faults.stack import AppStack, Services

fake_claude = fake_anthropic_fixture(scope="session", name="fake_claude")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.slow)
            # Under pytest-xdist (--dist loadgroup) all in one worker: the cases share one pair of servers.
            item.add_marker(pytest.mark.xdist_group("faults"))


@pytest.fixture(scope="session")
def fault_root():
    # Short on purpose: the Redis socket lives inside it (sun_path is 108 bytes).
    path = Path(tempfile.mkdtemp(prefix="yco-f-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def _services(fault_root):
    services = Services(fault_root).start()
    yield services
    services.stop()


@pytest.fixture
def services(_services):
    """The suite's PostgreSQL and Redis, running and empty. A case that
    stops a server must start it again before it ends; if it did not (it
    failed half-way), they are started here for the next case."""
    _ensure_running(_services)
    _services.reset_data()
    return _services


def _ensure_running(services: Services) -> None:
    try:
        services.redis().ping()
    except Exception:
        services.start_redis()
    try:
        services.postmaster_pid()
        from tests.faults.stack import sql

        sql(services.admin_url, "SELECT 1")
    except Exception:
        services.start_postgres()


@pytest.fixture
def app_stack(services, fake_claude, fault_root, request):
    """A factory: ``app_stack(**env)`` starts web, worker and cron under the
    supervisor on the suite's servers, Claude at the fake, and waits until
    the web answers. Everything started is stopped after the case."""
    started: list[AppStack] = []
    fake_claude.reset_counters()

    def start(*names: str, wait: bool = True, **env: str) -> AppStack:
        log = fault_root / f"{request.node.name[:40]}-{len(started) + 1}.log"
        stack = AppStack(services, log, **{**fake_claude.settings(), **env})
        started.append(stack)
        stack.start(*names)
        if wait and (not names or "web" in names):
            stack.wait_until_serving()
        return stack

    yield start
    for stack in started:
        stack.stop()
        print(f"--- {stack.log_path.name}\n{stack.log_tail(150)}")  # shown by pytest when the case failed
        if os.environ.get("YCO_FAULT_LOG_DIR"):  # to read a whole log afterwards
            shutil.copy(stack.log_path, os.environ["YCO_FAULT_LOG_DIR"])
