"""The web process stays light: numpy and scipy (the verdict's statistics) are
imported by the worker that judges experiments, not by every gunicorn
worker. Loaded in the web process they made every request's garbage
collection slower (GET /login served about 30 % fewer requests a second)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = "import sys, wsgi; print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))"


def test_the_web_app_imports_no_numerical_library() -> None:
    env = {**os.environ, "ENVIRONMENT": "test", "SECRET_KEY": "x" * 40}
    env.setdefault("DATABASE_URL", "postgresql://localhost/unused")
    env.setdefault("REDIS_URL", "redis://localhost:6379/0")
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
