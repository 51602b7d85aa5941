"""The one exception hierarchy of smartmail.

    SmartmailError
    ├── ConfigError          a setting is missing or malformed (exit 78 in the CLI)
    ├── RulesError           rules.yaml is wrong; carries every problem with file, line and key
    ├── TemporaryFailure     try again later: database away, relay refused (SMTP 451, exit 75)
    │   └── RelayTrouble     the outgoing relay cannot be used now (connection, TLS, login)
    ├── PermanentFailure     this mail will never be accepted (SMTP 550/554, exit 65)
    └── MailRefused          a mail of ours would carry a sender's text as a header or a
                             recipient: not sent, recorded on its case (desk/notify.py)

Each is caught once, at the edge that turns it into a reply, an exit code or a log line.
Anything else raised while processing a mail is a bug: the pipeline quarantines that mail.
"""

from __future__ import annotations

from dataclasses import dataclass


class SmartmailError(Exception):
    """Base of every error smartmail raises on purpose."""


class ConfigError(SmartmailError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong in a rules file: where it is and what is wrong."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: {self.key}" if self.key else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class RulesError(SmartmailError):
    """The rules file is wrong; `problems` lists every problem found."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class TemporaryFailure(SmartmailError):
    """The work could not be done now but may succeed later."""


class RelayTrouble(TemporaryFailure):
    """The outgoing relay cannot be used now: the same for every mail, logged once."""


class PermanentFailure(SmartmailError):
    """The input will never be accepted."""


class MailRefused(SmartmailError):
    """A mail we were about to send is unsafe (a recipient that is not one valid address,
    a header that would break into lines of its own): it is not sent."""
