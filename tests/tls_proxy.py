"""Test certificates (made with `cryptography`) and an nginx TLS proxy in front of the dev server:
one port demands a client certificate (mTLS), another an `authorization: Bearer KEY` header."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.engine.devserver import free_port


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool = False,
                 server: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def make_certificates(folder: Path) -> Certificates:
    """A CA; a server and a client certificate it signed; a client cert from another CA."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, other_key = _key(), _key()
    ca = _certificate("Kianax Test CA", ca_key, _name("Kianax Test CA"), ca_key, ca=True)
    files = {}
    for label, subject, signer, signer_key, server in (
            ("server", "localhost", ca, ca_key, True),
            ("client", "kianax-client", ca, ca_key, False),
            ("stranger", "stranger", None, other_key, False)):
        key = _key()
        issuer = signer.subject if signer is not None else _name("Other CA")
        cert = _certificate(subject, key, issuer, signer_key, server=server)
        (folder / f"{label}.pem").write_bytes(_pem(cert))
        (folder / f"{label}.key").write_bytes(_key_pem(key))
        files[label] = folder / f"{label}.pem", folder / f"{label}.key"
    (folder / "ca.pem").write_bytes(_pem(ca))
    return Certificates(folder / "ca.pem", *files["server"], *files["client"], *files["stranger"])


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  grpc_read_timeout 300s; grpc_send_timeout 300s; client_body_timeout 300s;
  ssl_certificate {server_cert}; ssl_certificate_key {server_key};
  server {{
    listen 127.0.0.1:{mtls_port} ssl http2;
    ssl_client_certificate {ca}; ssl_verify_client on;
    location / {{ grpc_pass grpc://{backend}; }}
  }}
  server {{
    listen 127.0.0.1:{key_port} ssl http2;
    location / {{
      if ($http_authorization != "Bearer {api_key}") {{ return 401; }}
      grpc_pass grpc://{backend};
    }}
  }}
}}
"""


@dataclass
class Proxy:
    process: subprocess.Popen
    mtls_address: str
    key_address: str
    certificates: Certificates
    api_key: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_proxy(folder: Path, backend: str, api_key: str) -> Proxy:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise RuntimeError("nginx not found: apt-get install nginx-light")
    certs = make_certificates(folder / "certs")
    mtls_port, key_port = free_port(), free_port()
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=folder, server_cert=certs.server_cert,
                                      server_key=certs.server_key, ca=certs.ca,
                                      mtls_port=mtls_port, key_port=key_port, backend=backend,
                                      api_key=api_key))
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(folder)],
                               stderr=subprocess.PIPE)
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", key_port), 0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.05)
    return Proxy(process, f"127.0.0.1:{mtls_port}", f"127.0.0.1:{key_port}", certs, api_key)
