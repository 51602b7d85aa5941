"""Relays for tests of outgoing mail: an aiosmtpd sink with STARTTLS on a self-signed
certificate (as a stock Postfix has), with or without SMTPUTF8."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import Sink, free_port


@dataclass(frozen=True)
class Certificate:
    cert: Path  # also the file a client trusts it by: it signed itself
    key: Path


def self_signed(directory: Path, name: str = "relay.test") -> Certificate:
    """A certificate that signed itself, for `name` and 127.0.0.1, as `make-ssl-cert`
    makes Debian's snakeoil one for Postfix."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    names = [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificate(directory / f"{name}.pem", directory / f"{name}.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class TlsSink(Sink):
    """A sink that also records, per mail, whether it came over TLS, and its bytes."""

    over_tls: list[bool] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            with self.lock:
                self.over_tls.append(session.ssl is not None)  # type: ignore[attr-defined]
                self.raw.append(envelope.original_content)  # type: ignore[attr-defined]
        return reply

    def read_as_utf8(self, index: int) -> EmailMessage:
        """The mail as a reader of RFC 6532 mail reads it: headers in UTF-8 (the stdlib's
        bytes parser would leave their bytes as surrogates)."""
        text = self.raw[index].decode("utf-8")
        return message_from_string(text, policy=policy.default)  # type: ignore[return-value]


@contextmanager
def relay(
    certificate: Certificate | None = None, *, smtputf8: bool = True, port: int = 0
) -> Iterator[TlsSink]:
    """A sink on loopback (`port`, else a free one); STARTTLS with `certificate` if given."""
    tls: ssl.SSLContext | None = None
    if certificate is not None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(certificate.cert, certificate.key)
    sink = TlsSink(port or free_port())
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=sink.port,
        tls_context=tls,
        enable_SMTPUTF8=smtputf8,
    )
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
