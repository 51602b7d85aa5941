"""How a mail leaves: through an SMTP relay, or into a folder as an .eml file.

TLS to the relay follows the MTAs' own model (Postfix's `smtp_tls_security_level`): `may`
takes STARTTLS when offered and does not check the certificate (a stock Postfix has a
self-signed one), `verify` requires TLS and checks the certificate, `none` sends in plain
text. A mail whose addresses or headers are not ASCII goes with SMTPUTF8 (RFC 6531) when
the relay offers it; a relay that does not can never take it, a permanent failure.

Trouble with the relay itself (connection, TLS, login) is logged once, with what to do,
until a mail goes through again: it is the same for every mail, and every mail stays
queued and is retried.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime
from pathlib import Path
from typing import Protocol

from smartmail.config import Relay
from smartmail.errors import PermanentFailure, RelayTrouble, TemporaryFailure

log = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        """Deliver or raise TemporaryFailure (RelayTrouble) / PermanentFailure."""


class FileTransport:
    """Writes each mail to `<dir>/<outbox id>.eml`: the embedded default, and handy to read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counter = 0

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
        self.counter += 1
        path = self.directory / f"{stamp}-{self.counter:04d}.eml"
        envelope = f"X-Envelope-From: <{mail_from}>\r\nX-Envelope-To: {', '.join(rcpt_to)}\r\n"
        path.write_bytes(envelope.encode() + body)


def tls_context(relay: Relay) -> ssl.SSLContext:
    """The TLS context for the relay's level: `verify` checks the certificate and the host
    name (against `ca_file` when set, else the system's CAs); `may` encrypts unchecked."""
    if relay.security == "verify":
        return ssl.create_default_context(cafile=str(relay.ca_file) if relay.ca_file else None)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # opportunistic TLS, as an MTA's `may`
    return context


class SmtpTransport:
    """Relays through an SMTP server: STARTTLS by the relay's TLS level, implicit TLS for
    smtps://, SMTPUTF8 when the mail needs it."""

    def __init__(self, relay: Relay, timeout: float = 30.0) -> None:
        self.relay = relay
        self.timeout = timeout
        self.where = f"relay {relay.host}:{relay.port}"
        self.context = tls_context(relay)
        self.reported: str | None = None  # the relay trouble logged last, until a mail goes

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        smtp = self._connect()
        try:
            options = self._mail_options(smtp, mail_from, rcpt_to, body)
            refused = smtp.sendmail(mail_from, rcpt_to, body, mail_options=options)
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code == 552:  # too large for the relay: it will never go
                raise PermanentFailure(f"{self.where}: 552 {exc.smtp_error!r}") from exc
            raise self._trouble(f"{self.where} refused our sender: {exc.smtp_code}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            _raise_for_code(code, text)
        except smtplib.SMTPResponseException as exc:
            _raise_for_code(exc.smtp_code, exc.smtp_error)
        except UnicodeError as exc:  # a non-ASCII address the relay cannot take
            raise PermanentFailure(f"{self.where}: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"{self.where}: {exc}") from exc
        finally:
            _hang_up(smtp)
        self._working()
        if refused:
            code, text = next(iter(refused.values()))
            _raise_for_code(code, text)

    def _connect(self) -> smtplib.SMTP:
        """A session ready for MAIL FROM; whatever fails on the way is relay trouble."""
        host, port = self.relay.host, self.relay.port
        smtp: smtplib.SMTP | None = None
        try:
            if self.relay.tls:
                smtp = smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=self.context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=self.timeout)
                self._starttls(smtp)
            if self.relay.username:
                smtp.login(self.relay.username, self.relay.password or "")
        except ssl.SSLCertVerificationError as exc:
            _close(smtp)
            raise self._trouble(self._certificate_advice(exc)) from exc
        except smtplib.SMTPAuthenticationError as exc:
            _close(smtp)
            message = f"{self.where} refused our login ({exc.smtp_code}): check the user and "
            raise self._trouble(message + "password in SMARTMAIL_OUTBOUND") from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Connection, TLS or login trouble is ours to fix, never the recipient's fault.
            _close(smtp)
            raise self._trouble(f"{self.where}: {exc}") from exc
        return smtp

    def _starttls(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo()
        if self.relay.security == "none":
            return
        if smtp.has_extn("starttls"):
            smtp.starttls(context=self.context)
            smtp.ehlo()
        elif self.relay.security == "verify":
            raise smtplib.SMTPNotSupportedError(
                "it offers no STARTTLS, and SMARTMAIL_OUTBOUND_TLS=verify requires TLS"
            )

    def check(self) -> str:
        """Connect as for a mail (EHLO, STARTTLS, login, as set) and hang up, for `smartmail
        doctor`: how it went. RelayTrouble says what is wrong and what to set."""
        smtp = self._connect()
        secured = isinstance(smtp.sock, ssl.SSLSocket)
        _hang_up(smtp)
        how = "TLS" if secured else "no TLS"
        return f"{how}, logged in as {self.relay.username}" if self.relay.username else how

    def _mail_options(
        self, smtp: smtplib.SMTP, mail_from: str, rcpt_to: list[str], body: bytes
    ) -> list[str]:
        """SMTPUTF8 (and 8BITMIME) for a mail that needs it; none for any other."""
        needing = needs_smtputf8(mail_from, rcpt_to, body)
        if not needing:
            return []
        if not smtp.has_extn("smtputf8"):
            raise PermanentFailure(
                f"{self.where} does not offer SMTPUTF8, which {needing} needs (letters "
                "outside ASCII, RFC 6531): such mail cannot be sent through this relay"
            )
        return ["SMTPUTF8", "BODY=8BITMIME"] if smtp.has_extn("8bitmime") else ["SMTPUTF8"]

    def _certificate_advice(self, exc: ssl.SSLCertVerificationError) -> str:
        reason = exc.verify_message or str(exc)
        advice = (
            f"{self.where}: its TLS certificate was not accepted ({reason}). Set "
            "SMARTMAIL_OUTBOUND_CA to a file with the relay's certificate (or its CA), "
            "or SMARTMAIL_OUTBOUND_TLS=may to encrypt without checking it, as an MTA does "
            "by default"
        )
        if "mismatch" in reason.lower():
            advice += "; or name the relay in SMARTMAIL_OUTBOUND as its certificate does"
        return advice

    def _trouble(self, message: str) -> RelayTrouble:
        """The relay's trouble as an error, logged unless it was the last one logged."""
        if message != self.reported:
            self.reported = message
            log.error("%s; outgoing mail stays queued and is retried", message)
        return RelayTrouble(message)

    def _working(self) -> None:
        if self.reported is not None:
            log.info("%s takes mail again", self.where)
            self.reported = None


def needs_smtputf8(mail_from: str, rcpt_to: list[str], body: bytes) -> str:
    """What in the mail needs SMTPUTF8 ("the address åsa@..." or "its headers"), else ""."""
    for address in (mail_from, *rcpt_to):
        if not address.isascii():
            return f"the address {address}"
    head = body.split(b"\r\n\r\n", 1)[0]
    return "" if head.isascii() else "its headers"


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT, ignoring its trouble: once the relay said 250 to DATA, the mail is its."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _raise_for_code(code: int, text: bytes | str) -> None:
    message = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if 500 <= code < 600:
        raise PermanentFailure(message)
    raise TemporaryFailure(message)


def make_transport(relay: Relay | None, sent_dir: Path) -> Transport:
    return SmtpTransport(relay) if relay else FileTransport(sent_dir)
