"""Generated tenant mails for the benchmarks: deterministic per seed, no I/O.

`generate(count, seed, secret)` gives `count` Swedish mails to the desk's ADDRESS: half new
mails from distinct customers (one case each), half replies to earlier new mails, threaded
by the case's subject token or by `In-Reply-To`. Mails are UTF-8 or ISO-8859-1, quoted-
printable, 8bit or base64, about a third multipart/alternative with an HTML part, about 10%
with a 20-200 KB attachment. Each `Mail` holds its raw bytes (ready for SMTP) and the case
it makes or joins when all mails are processed in order. The same seed gives the same
bytes; the only randomness is the `random.Random` passed along.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import random
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.message import EmailMessage

from smartmail.mail.tokens import case_token

ADDRESS = "felanmalan@bostad.example"
STOCKHOLM = timezone(timedelta(hours=1))

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


def new_count(mails: Sequence[Mail]) -> int:
    """How many of the mails are new (each makes a case of its own)."""
    return sum(mail.is_new for mail in mails)
