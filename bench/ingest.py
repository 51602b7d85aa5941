"""Ingest benchmark: how fast mail becomes cases, against a stdlib + SQLite floor.

    .venv/bin/python bench/ingest.py [--mails N] [--clients 8] [--seed 1] [--profile]

One run measures three phases on the same generated mails, each on a fresh temporary
data dir (SQLite, loopback only, outgoing mail discarded after the outbox is written):

1. floor: stdlib parse + one INSERT and commit per mail, same pragmas as smartmail. Each
   phase below is compared with a floor measured next to it, because the speed of a shared
   machine drifts within seconds: the in-process phases take turns with the floor, 40
   mails a turn; the SMTP phase is compared with floor runs right before and after it,
   and with the floor's work behind aiosmtpd's own listener, driven by the same clients
   (so the listener's own cost is in the floor too);
2. pipeline in-process: `Pipeline.process` for each mail, one after another (one commit
   each, as `smartmail ingest`); then `Pipeline.process_many` on groups of 8 (one commit
   per group, as the daemon's group commit does for mail that arrives together);
3. SMTP: the daemon's listener in this process, N mails from concurrent smtplib clients
   in a separate process (as real clients are: they do not share the daemon's interpreter).

It prints figures and sanity checks; it never asserts on time. `--profile` adds a cProfile
run of phase 2 (top lines by cumulative time, smartmail and its libraries only).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import email
import email.policy
import email.utils
import html
import io
import logging
import multiprocessing
import platform
import pstats
import random
import re
import smtplib
import sqlite3
import statistics
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SMTPEnvelope
from sqlalchemy import Engine, func
from sqlmodel import select

from smartmail.app import App, open_app
from smartmail.config import Settings, load_settings
from smartmail.daemon import Daemon
from smartmail.db import transaction
from smartmail.models import Message, Outbox, utcnow
from smartmail.pipeline import Envelope, Outcome
from smartmail.scheduler import sweep
from smartmail.tokens import case_token
from smartmail.views import list_cases

ADDRESS = "felanmalan@bostad.example"
SECRET = "bench-secret"
GROUP = 8  # mails per commit in the grouped in-process phase
SLICE = 5 * GROUP  # mails per turn when a phase and the floor take turns
STOCKHOLM = timezone(timedelta(hours=1))

# The office the project ships: its routing is what a real desk runs.
RULES = Path(__file__).resolve().parent.parent / "rules.yaml"

# --------------------------------------------------------------------------- mail content
# Only characters that ISO-8859-1 can carry: some mails are sent in it.

FIRST_NAMES = (
    "Åsa", "Erik", "Märta", "Johan", "Björn", "Eva", "Göran", "Lina",
    "Sören", "Karin", "Ali", "Fatima", "Maja", "Olle", "Ingrid", "Hamid",
)  # fmt: skip
LAST_NAMES = (
    "Öberg", "Lindqvist", "Ek", "Nyström", "Åkesson", "Berg",
    "Sjögren", "Karlsson", "Hassan", "Holmén", "Ström", "Johansson",
)  # fmt: skip
STREETS = ("Storgatan", "Björkvägen", "Ängsvägen", "Kvarngatan", "Sjövägen")

ISSUES: tuple[tuple[str, str], ...] = (
    (
        "Stopp i avloppet i köket",
        "Sedan i går kväll är det stopp i avloppet i köksbänken. Vattnet rinner undan "
        "väldigt långsamt och det luktar illa från diskhon.",
    ),
    (
        "Droppande kran i badrummet",
        "Kranen i handfatet i badrummet droppar hela tiden, även när den är helt avstängd.",
    ),
    (
        "Kallt element i sovrummet",
        "Elementet i sovrummet blir inte varmt fast termostaten står på max. "
        "Det är bara 17 grader inne på kvällarna.",
    ),
    (
        "Porten i trapphus B går inte att låsa",
        "Porten till trapphus B går inte i lås. Den har stått öppen hela helgen "
        "och det har varit okända personer i trapphuset.",
    ),
    (
        "Fuktfläck i taket i hallen",
        "Det har kommit en stor fuktfläck i taket i hallen, ungefär en halv meter bred. "
        "Den verkar växa för varje dag.",
    ),
    (
        "Tvättmaskin 2 i tvättstugan är trasig",
        "Maskin 2 i tvättstugan stannar mitt i programmet och visar felkod E21. "
        "Tvätten blir liggande i vatten.",
    ),
    (
        "Hissen står still",
        "Hissen i vårt hus har stått still sedan i morse. Min mamma har rullator "
        "och kommer inte upp till fjärde våningen.",
    ),
    (
        "Ventilationen låter högt",
        "Fläkten i köksventilationen låter mycket högt och vibrerar, särskilt på natten.",
    ),
    (
        "Kylskåpet läcker vatten",
        "Det rinner vatten från kylskåpet ut på golvet. Jag har lagt handdukar "
        "men det blir blött hela tiden.",
    ),
    (
        "Trasig lampa i källargången",
        "Lampan vid förråden i källargången är trasig, det är helt mörkt där nere.",
    ),
    (
        "Borttappad nyckelbricka",
        "Jag har tappat min nyckelbricka till porten och tvättstugan. "
        "Kan ni spärra den och ge mig en ny?",
    ),
    (
        "Möss i förrådet",
        "Vi har sett spår av möss i vårt förråd i källaren. Några kartonger är sönderbitna.",
    ),
)

FILLER = (
    "Jag har bott här i sex år och det här har hänt en gång förut, då kom en rörmokare.",
    "Vi är hemma de flesta dagar efter klockan tre, annars går det bra att ringa.",
    "Grannen på våningen under säger att hon har märkt samma sak i sin lägenhet.",
    "Det vore bra om ni kunde meddela i förväg vilken dag ni tänker komma.",
    "Ni får gärna använda huvudnyckel om vi inte är hemma, men vi har en katt.",
    "Jag skickade en felanmälan via telefon förra veckan men har inte hört något.",
    "Barnen sover på eftermiddagen så helst inte mellan ett och tre.",
    "Jag har försökt själv med en vanlig sugpropp men det hjälpte inte alls.",
    "Kan ni också titta på fönstret i vardagsrummet när ni ändå är här? Det drar kallt.",
    "Portkoden är densamma som tidigare, och vi bor på tredje våningen till höger.",
    "Jag bifogar gärna bilder om det behövs, säg bara till.",
    "Hyran är betald som vanligt, så det är inte det saken gäller.",
)

REPLY_TEXTS = (
    "Hej igen! Det har inte blivit bättre, snarare sämre sedan i går.",
    "Tack för svaret. Passar det att ni kommer på torsdag förmiddag?",
    "Jag glömde att skriva att vi har hund, så ring gärna på innan ni går in.",
    "Nu har det börjat igen, precis som förra gången.",
    "Jag är inte hemma i morgon men ni får gärna gå in med huvudnyckel.",
    "Tack, det fungerar nu! Men det låter fortfarande lite konstigt ibland.",
)


@dataclass(frozen=True)
class Style:
    """How a mail is encoded: charset, transfer encoding, HTML part, attachment."""

    charset: str
    cte: str
    alternative: bool
    attachment: tuple[str, str, bytes] | None  # filename, content type, bytes


@dataclass(frozen=True)
class Mail:
    index: int
    sender: str
    name: str
    message_id: str
    subject: str
    text: str
    raw: bytes
    style: Style
    case: int  # the case it makes or joins when all mails are processed in order
    original: int | None = None  # index of the new mail a reply belongs to
    token: str = ""  # subject token as numbered in order ("" when threaded by In-Reply-To)

    @property
    def is_new(self) -> bool:
        return self.original is None


def _paragraphs(rng: random.Random) -> list[str]:
    count = min(int(rng.expovariate(1 / 3)), 14)
    return [" ".join(rng.sample(FILLER, rng.randint(2, 4))) for _ in range(count)]


def _signature(rng: random.Random, name: str) -> str:
    street = f"{rng.choice(STREETS)} {rng.randint(1, 60)}, lgh {rng.randint(1001, 1304)}"
    return f"Med vänliga hälsningar\n{name}\n{street}\nTel 070-{rng.randint(1000000, 9999999)}"


def _style(rng: random.Random) -> Style:
    charset = "iso-8859-1" if rng.random() < 0.2 else "utf-8"
    cte = rng.choices(("quoted-printable", "8bit", "base64"), weights=(5, 3, 2))[0]
    attachment = None
    if rng.random() < 0.1:
        size = rng.randint(20_000, 200_000)
        filename, ctype = rng.choice(
            [
                ("felanmalan.pdf", "application/pdf"),
                (f"IMG_{rng.randint(1000, 9999)}.jpg", "image/jpeg"),
            ]
        )
        attachment = (filename, ctype, rng.randbytes(size))
    return Style(charset, cte, rng.random() < 0.35, attachment)


def _html(text: str) -> str:
    """The text as HTML, in short lines (no line may pass 998 bytes, whatever the encoding)."""
    paragraphs = "\n".join(
        textwrap.fill(f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>", 76)
        for part in text.split("\n\n")
    )
    return (
        f'<html>\n<body style="font-family: Calibri, sans-serif">\n{paragraphs}\n</body>\n</html>'
    )


def _subject_header(subject: str, token: str, charset: str) -> bytes:
    """The Subject line, with the token outside any encoded word (so it can be swapped)."""
    value = subject
    if not subject.isascii():
        value = Header(subject, charset, header_name="Subject").encode(linesep="\r\n")
    if token:
        value = f"{value} {token}"
    return f"Subject: {value}\r\n".encode("ascii")


def _render(headers: dict[str, str], subject: str, token: str, text: str, style: Style) -> bytes:
    msg = EmailMessage()
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(text, charset=style.charset, cte=style.cte)
    if style.alternative:
        msg.add_alternative(_html(text), subtype="html", charset=style.charset, cte=style.cte)
    if style.attachment:
        filename, ctype, data = style.attachment
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return _subject_header(subject, token, style.charset) + msg.as_bytes(policy=email.policy.SMTP)


def _headers(index: int, seed: int, name: str, sender: str) -> dict[str, str]:
    sent = datetime(2025, 3, 3, 8, 0, tzinfo=STOCKHOLM) + timedelta(minutes=7 * index)
    return {
        "From": f"{name} <{sender}>",
        "To": ADDRESS,
        "Date": email.utils.format_datetime(sent),
        "Message-ID": f"<{index:06d}.{seed}.bench@kund.example>",
    }


def _wrap(text: str) -> str:
    return "\n\n".join(textwrap.fill(part, 72) for part in text.split("\n\n"))


def new_mail(rng: random.Random, index: int, seed: int, case: int) -> Mail:
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    sender = f"customer{case:03d}@kund.example"
    subject, problem = rng.choice(ISSUES)
    body = "\n\n".join(["Hej!", problem, *_paragraphs(rng)])
    text = f"{_wrap(body)}\n\n{_signature(rng, name)}\n"
    headers = _headers(index, seed, name, sender)
    style = _style(rng)
    return Mail(
        index=index,
        sender=sender,
        name=name,
        message_id=headers["Message-ID"],
        subject=subject,
        text=text,
        raw=_render(headers, subject, "", text, style),
        style=style,
        case=case,
    )


def _quoted(original: Mail) -> str:
    lines = "\n".join(f"> {line}" if line else ">" for line in original.text.splitlines())
    return f"Den 3 mars 2025 skrev {original.name} <{original.sender}>:\n{lines}\n"


def reply_mail(rng: random.Random, index: int, seed: int, original: Mail, secret: bytes) -> Mail:
    by_token = rng.random() < 0.5
    token = case_token(original.case, secret) if by_token else ""
    body = _wrap("\n\n".join(["Hej!", rng.choice(REPLY_TEXTS), *_paragraphs(rng)[:2]]))
    text = f"{body}\n\n{original.name}\n"
    if rng.random() < 0.5:
        text = f"{text}\n{_quoted(original)}"
    headers = _headers(index, seed, original.name, original.sender)
    if not by_token:
        headers["In-Reply-To"] = headers["References"] = original.message_id
    subject = f"Sv: {original.subject}"
    style = _style(rng)
    return Mail(
        index=index,
        sender=original.sender,
        name=original.name,
        message_id=headers["Message-ID"],
        subject=subject,
        text=text,
        raw=_render(headers, subject, token, text, style),
        style=style,
        case=original.case,
        original=original.index,
        token=token,
    )


def generate(count: int, seed: int, secret: bytes) -> list[Mail]:
    """`count` mails: half new (distinct customers), half replies to earlier new mails."""
    rng = random.Random(seed)
    plan = [True] * (count - count // 2) + [False] * (count // 2)
    rng.shuffle(plan)
    if plan:
        plan[plan.index(True)], plan[0] = plan[0], True
    news: list[Mail] = []
    mails: list[Mail] = []
    for index, is_new in enumerate(plan):
        if is_new:
            news.append(new_mail(rng, index, seed, len(news) + 1))
            mails.append(news[-1])
        else:
            mails.append(reply_mail(rng, index, seed, rng.choice(news), secret))
    return mails


# --------------------------------------------------------------------------- measuring


@dataclass
class Phase:
    """What one phase measured: wall time and one duration per mail (seconds)."""

    name: str
    wall: float
    durations: list[float]
    check: str = ""
    count: int = 0  # mails in the phase; 0: one per duration

    @property
    def ms_per_mail(self) -> float:
        return 1000 * self.wall / max(self.count or len(self.durations), 1)


class DiscardTransport:
    """Outgoing mail goes nowhere; the outbox rows are still written and marked sent."""

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        return None


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def make_settings(root: Path, name: str, rules: Path) -> Settings:
    environ = {
        "SMARTMAIL_DATA_DIR": str(root / name),
        "SMARTMAIL_RULES": str(rules),
        "SMARTMAIL_SECRET": SECRET,
        "SMARTMAIL_LISTEN": "127.0.0.1:0",
        "SMARTMAIL_LOG_LEVEL": "WARNING",
    }
    return load_settings(environ, env_file=None)


def store_check(engine: Engine, expected_cases: int) -> str:
    """Counted from the database: what the phase left behind."""
    with transaction(engine) as session:
        cases = len(list_cases(session))
        inbound = session.exec(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        ).one()
        outbox = session.exec(select(func.count()).select_from(Outbox)).one()
        sent = session.exec(
            select(func.count()).select_from(Outbox).where(Outbox.status == "sent")
        ).one()
    verdict = "ok" if cases == expected_cases else "MISMATCH"
    return (
        f"{cases} cases (expected {expected_cases}: {verdict}), "
        f"{inbound} inbound messages, {outbox} outbox rows ({sent} sent)"
    )


def _kinds(kinds: Counter[str]) -> str:
    return " ".join(f"{kind}={count}" for kind, count in sorted(kinds.items()))


# --------------------------------------------------------------------------- 1. floor


def _floor_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False)  # over SMTP: the loop's thread
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE mail (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
        " subject TEXT NOT NULL, sender TEXT NOT NULL, raw BLOB NOT NULL)"
    )
    return conn


class Floor:
    """stdlib parse + one INSERT and commit per mail: what any ingest must at least pay.

    Run in slices between a phase's slices, so that both see the machine at the same speed.
    """

    def __init__(self, path: Path) -> None:
        self.conn = _floor_db(path)
        self.wall = 0.0
        self.durations: list[float] = []

    def run(self, mails: Sequence[Mail]) -> None:
        start = time.perf_counter()
        for mail in mails:
            self.take(mail.raw)
        self.wall += time.perf_counter() - start

    def take(self, raw: bytes) -> int:
        """One mail: parsed, inserted, committed. Gives its row id."""
        began = time.perf_counter()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        cursor = self.conn.execute(
            "INSERT INTO mail (message_id, subject, sender, raw) VALUES (?, ?, ?, ?)",
            (str(msg["message-id"]), str(msg["subject"]), str(msg["from"]), raw),
        )
        self.conn.commit()
        self.durations.append(time.perf_counter() - began)
        return int(cursor.lastrowid or 0)

    def close(self) -> Phase:
        rows = self.conn.execute("SELECT COUNT(*) FROM mail").fetchone()[0]
        self.conn.close()
        verdict = "ok" if rows == len(self.durations) else "MISMATCH"
        return Phase(
            "floor (parse + 1 insert)", self.wall, self.durations, f"{rows} rows ({verdict})"
        )


def run_floor(mails: Sequence[Mail], path: Path) -> Phase:
    floor = Floor(path)
    floor.run(mails)
    return floor.close()


# --------------------------------------------------------------------------- 2. in-process


@dataclass
class InProcess:
    phase: Phase
    mails: Sequence[Mail]

    def subset(self, label: str, keep: Callable[[Mail], bool]) -> Phase:
        picked = [d for m, d in zip(self.mails, self.phase.durations, strict=True) if keep(m)]
        return Phase(label, sum(picked), picked)

    def rows(self) -> list[Phase]:
        replies = [m.index for m in self.mails if not m.is_new]
        quarter = len(replies) // 4
        first, last = set(replies[:quarter]), set(replies[len(replies) - quarter :])
        return [
            self.subset("  new mails", lambda m: m.is_new),
            self.subset("  replies", lambda m: not m.is_new),
            self.subset("  replies, first quarter", lambda m: m.index in first),
            self.subset("  replies, last quarter", lambda m: m.index in last),
        ]


@dataclass
class Tally:
    """What a phase has measured so far, slice by slice."""

    wall: float = 0.0
    durations: list[float] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    misthreaded: int = 0

    def outcomes(self) -> str:
        return f"outcomes {_kinds(self.kinds)}, {self.misthreaded} on an unexpected case"


Step = Callable[[App, Sequence[Mail], Tally], None]


def process_each(app: App, mails: Sequence[Mail], tally: Tally) -> None:
    """`Pipeline.process` per mail: one commit each."""
    start = time.perf_counter()
    for mail in mails:
        envelope = Envelope("smtp", mail.sender, (ADDRESS,))
        began = time.perf_counter()
        outcome = app.pipeline.process(mail.raw, envelope)
        tally.durations.append(time.perf_counter() - began)
        tally.kinds[outcome.kind] += 1
        tally.misthreaded += outcome.case_number != mail.case
    tally.wall += time.perf_counter() - start


def process_grouped(app: App, mails: Sequence[Mail], tally: Tally) -> None:
    """`Pipeline.process_many` on groups of GROUP: each mail's duration is its group's."""
    start = time.perf_counter()
    for first in range(0, len(mails), GROUP):
        group = mails[first : first + GROUP]
        began = time.perf_counter()
        results = app.pipeline.process_many(
            [(mail.raw, Envelope("smtp", mail.sender, (ADDRESS,))) for mail in group]
        )
        tally.durations += [time.perf_counter() - began] * len(group)
        for mail, result in zip(group, results, strict=True):
            kind = result.kind if isinstance(result, Outcome) else type(result).__name__
            tally.kinds[kind] += 1
            tally.misthreaded += not isinstance(result, Outcome) or result.case_number != mail.case
    tally.wall += time.perf_counter() - start


def alternate(
    name: str, mails: Sequence[Mail], settings: Settings, step: Step, floor: Floor
) -> Phase:
    """`step` on a fresh data dir, slice by slice, each slice right after the floor's."""
    app = open_app(settings, transport=DiscardTransport())
    tally = Tally()
    try:
        for first in range(0, len(mails), SLICE):
            part = mails[first : first + SLICE]
            floor.run(part)
            step(app, part, tally)
        check = f"{tally.outcomes()}; {store_check(app.engine, _new_count(mails))}"
    finally:
        app.engine.dispose()
    return Phase(name, tally.wall, tally.durations, check)


def run_inprocess(mails: Sequence[Mail], settings: Settings, floor: Floor) -> InProcess:
    phase = alternate("pipeline in-process", mails, settings, process_each, floor)
    return InProcess(phase, mails)


def run_grouped(mails: Sequence[Mail], settings: Settings, floor: Floor) -> Phase:
    return alternate(f"pipeline, {GROUP} per commit", mails, settings, process_grouped, floor)


def profile_inprocess(mails: Sequence[Mail], settings: Settings, lines: int = 15) -> str:
    app = open_app(settings, transport=DiscardTransport())
    profiler = cProfile.Profile()
    try:
        profiler.runcall(process_each, app, mails, Tally())
    finally:
        app.engine.dispose()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"smartmail/|site-packages/", lines)
    return out.getvalue()


def _new_count(mails: Sequence[Mail]) -> int:
    return sum(mail.is_new for mail in mails)


# --------------------------------------------------------------------------- 3. SMTP


class DaemonThread:
    """The daemon on its own asyncio loop in a background thread."""

    def __init__(self, app: App) -> None:
        self.daemon = Daemon(app)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="smartmail-daemon", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.daemon.run(ready=self.ready.set)

    def start(self) -> int:
        """Start listening; returns the port."""
        self.thread.start()
        if not self.ready.wait(30) or self.error or not self.daemon.servers:
            raise RuntimeError(f"the daemon did not start: {self.error!r}")
        return int(self.daemon.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self.loop is None or not self.thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.daemon.stopping.set)
        self.thread.join(60)
        if self.thread.is_alive():
            raise RuntimeError("the daemon did not stop within 60 s")


class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that keeps the answer to DATA: smartmail's 250 names the case."""

    data_reply = b""

    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        code, reply = super().data(msg)
        self.data_reply = reply
        return code, reply


@dataclass
class Client:
    """One SMTP connection sending its share: all mails of its customers, in order."""

    port: int
    mails: list[Mail]
    secret: bytes
    latencies: list[float] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    cases: dict[int, int] = field(default_factory=dict)  # new mail index -> its case
    misthreaded: int = 0
    failures: list[str] = field(default_factory=list)

    def run(self, barrier: threading.Barrier) -> None:
        with RecordingSMTP("127.0.0.1", self.port, timeout=120) as smtp:
            smtp.ehlo()
            barrier.wait()
            for mail in self.mails:
                self.send(smtp, mail)

    def raw(self, mail: Mail) -> bytes | None:
        """Case numbers depend on arrival order here: swap in the token of the real case."""
        if not mail.token or mail.original is None:
            return mail.raw
        if mail.original not in self.cases:
            return None  # its new mail was refused
        token = case_token(self.cases[mail.original], self.secret)
        return mail.raw.replace(mail.token.encode(), token.encode(), 1)

    def send(self, smtp: RecordingSMTP, mail: Mail) -> None:
        raw = self.raw(mail)
        if raw is None:
            self.failures.append("not sent: a reply to a refused mail")
            return
        began = time.perf_counter()
        try:
            smtp.sendmail(mail.sender, [ADDRESS], raw)
        except smtplib.SMTPException as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
            return
        self.latencies.append(time.perf_counter() - began)
        kind, case = _outcome(smtp.data_reply)
        self.kinds[kind] += 1
        if mail.original is None and case is not None:
            self.cases[mail.index] = case
        elif mail.original is not None and case != self.cases.get(mail.original):
            self.misthreaded += 1


_OUTCOME = re.compile(r"(\w+)(?: case (\d+))?\s*$")


def _outcome(reply: bytes) -> tuple[str, int | None]:
    """("new_case", 17) from smartmail's "250 2.0.0 new_case case 17"."""
    match = _OUTCOME.search(reply.decode(errors="replace"))
    if match is None:
        return "?", None
    return match[1], int(match[2]) if match[2] else None


def share(mails: Sequence[Mail], clients: int, port: int, secret: bytes) -> list[Client]:
    """A customer's mails all go to one client, so a reply is sent after its case exists."""
    shares: list[Client] = [Client(port, [], secret) for _ in range(clients)]
    for mail in mails:
        shares[mail.case % clients].mails.append(mail)  # one customer per case
    return shares


def drive(clients: list[Client]) -> float:
    """Run all clients at once; returns the wall time from the common start to the last 250."""
    barrier = threading.Barrier(len(clients) + 1, timeout=60)
    threads = [
        threading.Thread(target=client.run, args=(barrier,), name=f"client-{number}")
        for number, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def drive_elsewhere(clients: list[Client]) -> tuple[float, list[Client]]:
    """`drive` in a fresh process: the clients' own work does not slow the daemon's."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_drive_and_return, clients).result()


def _drive_and_return(clients: list[Client]) -> tuple[float, list[Client]]:
    return drive(clients), clients


def run_smtp(mails: Sequence[Mail], settings: Settings, clients: int) -> Phase:
    app = open_app(settings, transport=DiscardTransport())
    # The daemon's first sweep, done before the clock starts: on a fresh database, started
    # in business hours, it sends the week's report, which would land in the figures or
    # not depending on the hour the bench runs. Later sweeps find nothing to do.
    sweep(app, utcnow())
    server = DaemonThread(app)
    try:
        port = server.start()
        wall, shares = drive_elsewhere(share(mails, clients, port, settings.secret))
    finally:
        server.stop()
    kinds = sum((client.kinds for client in shares), Counter[str]())
    misthreaded = sum(client.misthreaded for client in shares)
    failures = [failure for client in shares for failure in client.failures]
    check = (
        f"outcomes {_kinds(kinds)}, {misthreaded} on an unexpected case, "
        f"{len(failures)} failed{': ' + failures[0] if failures else ''}; "
        f"{store_check(app.engine, _new_count(mails))}"
    )
    app.engine.dispose()
    latencies = [latency for client in shares for latency in client.latencies]
    return Phase(f"SMTP, {clients} clients", wall, latencies, check, count=len(mails))


class FloorOverSMTP:
    """The floor's work behind aiosmtpd's own listener, on an asyncio loop in a thread.

    Each mail is taken in the DATA handler, on the loop, one after another: the floor adds
    nothing of smartmail's (no group commit, no worker thread), only the listener's cost.
    """

    def __init__(self, path: Path) -> None:
        self.floor = Floor(path)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="floor-smtp")
        self.server: asyncio.Server | None = None

    async def handle_DATA(self, _server: SMTP, _session: object, envelope: SMTPEnvelope) -> str:
        data = envelope.original_content or b""
        # the answer the clients read: each mail is a "case" of its own here
        return f"250 2.0.0 new_case case {self.floor.take(data)}"

    def start(self) -> int:
        self.thread.start()
        create = self.loop.create_server(lambda: SMTP(self), "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(create, self.loop).result(30)
        return int(self.server.sockets[0].getsockname()[1])

    def stop(self) -> Phase:
        if self.server is not None:
            self.server.close()
            closed = asyncio.run_coroutine_threadsafe(self.server.wait_closed(), self.loop)
            closed.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()
        return self.floor.close()


def run_floor_over_smtp(mails: Sequence[Mail], path: Path, clients: int) -> Phase:
    listener = FloorOverSMTP(path)
    try:
        port = listener.start()
        wall, shares = drive_elsewhere(share(mails, clients, port, SECRET.encode()))
    finally:
        stored = listener.stop()
    failures = [failure for client in shares for failure in client.failures]
    check = f"{stored.check}, {len(failures)} failed{': ' + failures[0] if failures else ''}"
    latencies = [latency for client in shares for latency in client.latencies]
    return Phase("floor over SMTP", wall, latencies, check, count=len(mails))


# --------------------------------------------------------------------------- report


def describe(mails: Sequence[Mail]) -> list[str]:
    new = _new_count(mails)
    attached = sum(mail.style.attachment is not None for mail in mails)
    by_token = sum(bool(mail.token) for mail in mails)
    plain_sizes = [len(mail.raw) for mail in mails if mail.style.attachment is None]
    latin1 = sum(mail.style.charset == "iso-8859-1" for mail in mails)
    alternative = sum(mail.style.alternative for mail in mails)
    return [
        f"smartmail ingest benchmark: {len(mails)} mails ({new} new, {len(mails) - new} replies,"
        f" {attached} with attachments), python {platform.python_version()},"
        f" sqlite {sqlite3.sqlite_version}",
        f"  replies: {by_token} by subject token, {len(mails) - new - by_token} by In-Reply-To;"
        f" {alternative} multipart/alternative, {latin1} ISO-8859-1; without attachments"
        f" {min(plain_sizes, default=0) / 1024:.1f}-{max(plain_sizes, default=0) / 1024:.1f} KB"
        f" (median {statistics.median(plain_sizes or [0]) / 1024:.1f} KB)",
    ]


def row(phase: Phase, floor: Phase | None, rate: bool = True) -> str:
    def cell(value: float | None, width: int, digits: int) -> str:
        return f"{value:>{width}.{digits}f}" if value is not None else " " * width

    ratio = phase.ms_per_mail / floor.ms_per_mail if floor is not None else None
    has = bool(phase.durations)
    return "".join(
        [
            f"{phase.name:<26}",
            cell(1000 / phase.ms_per_mail if rate and has else None, 8, 0),
            cell(phase.ms_per_mail if has else None, 10, 2),
            cell(ratio if has else None, 10, 2),
            cell(1000 * percentile(phase.durations, 0.5) if has else None, 9, 2),
            cell(1000 * percentile(phase.durations, 0.99) if has else None, 9, 2),
        ]
    )


@dataclass
class Compared:
    """A pipeline phase and the floor measured next to it."""

    floor: Phase
    phase: Phase


def floors_together(floors: Sequence[Phase]) -> Phase:
    """Floor runs as one: the mean ms/mail, every mail's duration."""
    count = sum(floor.count or len(floor.durations) for floor in floors)
    durations = [duration for floor in floors for duration in floor.durations]
    return Phase(floors[0].name, sum(floor.wall for floor in floors), durations, count=count)


def table(inprocess: InProcess, inprocess_floor: Phase, others: Sequence[Compared]) -> list[str]:
    header = f"{'phase':<26}{'mails/s':>8}{'ms/mail':>10}{'x floor':>10}{'p50 ms':>9}{'p99 ms':>9}"
    # each floor once: the SMTP phase and the floor over SMTP share theirs
    floors = list(
        {id(floor): floor for floor in (inprocess_floor, *(o.floor for o in others))}.values()
    )
    each = " / ".join(f"{floor.ms_per_mail:.2f}" for floor in floors)
    return [
        header,
        row(floors_together(floors), None),
        row(inprocess.phase, inprocess_floor),
        *(row(sub, inprocess_floor, rate=False) for sub in inprocess.rows()),
        *(row(other.phase, other.floor) for other in others),
        f"floor next to each phase: {each} ms/mail (taking turns with the in-process phases,"
        f" {SLICE} mails a turn; before and after SMTP); x floor is against the phase's own",
    ]


# --------------------------------------------------------------------------- main


def quiet_logs() -> None:
    for name in ("smartmail", "mail.log"):
        logging.getLogger(name).setLevel(logging.WARNING)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mails", type=int, default=1000, help="how many mails (default 1000)")
    parser.add_argument("--clients", type=int, default=8, help="SMTP connections (default 8)")
    parser.add_argument("--seed", type=int, default=1, help="for the generated mails")
    parser.add_argument(
        "--profile", action="store_true", help="also profile the in-process phase (cProfile)"
    )
    args = parser.parse_args(argv)
    if args.mails < 2 or args.clients < 1:
        parser.error("need --mails >= 2 and --clients >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    quiet_logs()
    mails = generate(args.mails, args.seed, SECRET.encode())
    print("\n".join(describe(mails)), flush=True)
    with tempfile.TemporaryDirectory(prefix="smartmail-bench-") as tmp:
        root = Path(tmp)
        rules = RULES

        def checked(name: str, floor: Phase) -> Phase:
            print(f"check floor, {name}: {floor.check}", flush=True)
            return floor

        floor = Floor(root / "floor-inprocess.db")
        inprocess = run_inprocess(mails, make_settings(root, "inprocess", rules), floor)
        print(f"check pipeline in-process: {inprocess.phase.check}", flush=True)
        inprocess_floor = checked("taking turns with it", floor.close())
        floor = Floor(root / "floor-grouped.db")
        grouped = run_grouped(mails, make_settings(root, "grouped", rules), floor)
        print(f"check pipeline grouped: {grouped.check}", flush=True)
        grouped_floor = checked("taking turns with it", floor.close())
        before = checked("before SMTP", run_floor(mails, root / "floor-before-smtp.db"))
        over_before = checked(
            "over SMTP, before SMTP",
            run_floor_over_smtp(mails, root / "floor-smtp-before.db", args.clients),
        )
        smtp = run_smtp(mails, make_settings(root, "smtp", rules), args.clients)
        print(f"check SMTP: {smtp.check}", flush=True)
        over_after = checked(
            "over SMTP, after SMTP",
            run_floor_over_smtp(mails, root / "floor-smtp-after.db", args.clients),
        )
        after = checked("after SMTP", run_floor(mails, root / "floor-after-smtp.db"))
        bare = floors_together([before, after])
        over = floors_together([over_before, over_after])
        others = [Compared(grouped_floor, grouped), Compared(bare, over), Compared(bare, smtp)]
        lines = table(inprocess, inprocess_floor, others)
        lines.append(
            f"SMTP against the floor over SMTP (the listener's cost in both):"
            f" {smtp.ms_per_mail / over.ms_per_mail:.2f}x"
        )
        print("\n".join(["", *lines]), flush=True)
        if args.profile:
            print("\nprofile of the in-process phase (fresh data dir), by cumulative time:")
            print(profile_inprocess(mails, make_settings(root, "profile", rules)))


if __name__ == "__main__":
    main()
