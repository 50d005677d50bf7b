"""A real ``redis-server`` for tests: Debian's binary on a free loopback port, in a temporary
directory, with no persistence (``--save '' --appendonly no``), stopped when the ``with`` ends.
With ``tls=True`` it listens for TLS only, with a self-signed certificate for 127.0.0.1 made
here (``cryptography``); the URL (``rediss://``) names that certificate as the CA to trust.

``conftest.redis_url`` holds one for the whole test run; each test keeps to a namespace of its
own (``proxy.redis_store.RedisStore``'s ``namespace``), so tests never see each other's keys.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REDIS_SERVER = "/usr/bin/redis-server"
READY_WITHIN = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _reply(port: int, ca: Path | None) -> bytes:
    """What a server on ``port`` answers to PING (a plain or TLS socket: no client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw:
            if ca is None:
                raw.sendall(b"PING\r\n")
                return raw.recv(64)
            with ssl.create_default_context(cafile=str(ca)).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64)
    except OSError:
        return b""


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key: (cert, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cobrowse test redis")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = workdir / "redis.crt", workdir / "redis.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@contextlib.contextmanager
def running_redis(password: str = "", tls: bool = False) -> Iterator[str]:
    """A started server's URL (``redis://127.0.0.1:PORT/0``); ``password`` sets ``requirepass``
    (the URL then carries it); ``tls``: TLS only (``rediss://...?ssl_ca_certs=CERT``)."""
    binary = shutil.which("redis-server") or REDIS_SERVER
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cobrowse-redis-") as workdir:
        argv = [binary, "--port", "0" if tls else str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", workdir, "--logfile", "", "--daemonize", "no"]
        if password:
            argv += ["--requirepass", password]
        ca: Path | None = None
        if tls:
            ca, key = self_signed(Path(workdir))
            argv += ["--tls-port", str(port), "--tls-cert-file", str(ca), "--tls-key-file", str(key),
                     "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no"]
        ready = b"-NOAUTH" if password else b"+PONG"
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + READY_WITHIN
            while not _reply(port, ca).startswith(ready):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}")
                time.sleep(0.05)
            auth = f":{password}@" if password else ""
            yield (f"rediss://{auth}127.0.0.1:{port}/0?ssl_ca_certs={ca}" if ca is not None
                   else f"redis://{auth}127.0.0.1:{port}/0")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

