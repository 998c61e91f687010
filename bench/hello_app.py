"""The reference for ``login_vs_hello``: the smallest Flask app there is,
served by the same gunicorn settings as the real one (``-c gunicorn.conf.py``).
It renders nothing, opens no session and touches no database or Redis."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "<!doctype html><title>Hello</title><p>Hello, world.</p>"
