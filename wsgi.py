"""WSGI entry point for gunicorn and the flask CLI (``flask --app wsgi``).

A configuration error stops start-up with one line naming the variable.
"""

import sys

from reliability.errors import STARTUP_FAILED_EXIT, ConfigError
from webapp import create_app

try:
    app = create_app()
except ConfigError as exc:
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(STARTUP_FAILED_EXIT)
