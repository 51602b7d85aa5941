"""What machines that look like people write: senders, subjects and bodies, as data.

Bounces, auto-replies and list notices often come without any standard header (no
Auto-Submitted, no multipart/report, a normal-looking sender). They still show what they
are by who sends them (mailer-daemon, `*-request@`, noreply), by the fixed wording the big
vendors put at the start of the subject ("Undeliverable:", "Automatiskt svar:"), and by a
body a bounce parser recognises. The guard (guard.py) asks the functions here; the lists
are data, so adding a vendor's wording is one line.

Subjects are matched by their SHAPE, not by words anywhere: a wording counts only at the
start of the subject and followed by a colon, a parenthesis or nothing, so that a person
writing "Out of office next week, can you fix the tap before?" is not taken for a machine.
"""

from __future__ import annotations

import logging
import re
from email.message import EmailMessage

from flufl.bounce import all_failures

from smartmail.mail.casefree import has_any

# flufl.bounce logs every detector it runs at INFO; only its own errors matter here.
_BOUNCE_LOG = logging.getLogger("flufl.bounce")
if _BOUNCE_LOG.level == logging.NOTSET:
    _BOUNCE_LOG.setLevel(logging.WARNING)

# -- senders ---------------------------------------------------------------------------------

# Local parts (before any +detail), compared without "-", "_" and ".".
SENDER_LOCAL_PARTS = (
    "mailerdaemon",
    "postmaster",
    "noreply",
    "noreplies",
    "donotreply",
    "dontreply",
    "noanswer",
    "noresponder",  # es
    "nepasrepondre",  # fr
    "nichtantworten",  # de
    "keineantwort",
    "svarainte",  # sv
    "intesvara",
    "ejsvar",
    "ikkesvar",  # no, da
    "alavastaa",  # fi
    "nietantwoorden",  # nl
    "antivirus",
    "virusscan",
    "virusscanner",
    "viruswall",
    "virusalert",
    "mailscanner",
    "scanmail",
    "quarantine",
    "spamfilter",
)
# Somewhere in the local part: "bounce-noreply", "no-reply.notifications".
SENDER_LOCAL_INFIXES = ("noreply", "donotreply", "mailerdaemon", "antivirus", "virusscan")
# Mailing-list roles (RFC 2142 and list managers): eva-request@, hyresgaster-owner@.
SENDER_LIST_SUFFIXES = ("-admin", "-owner", "-request", "-bounces", "-bounce")
SENDER_LIST_PREFIXES = ("owner-",)
# Display names of delivery systems and security gateways, lower case, matched at the start.
SENDER_NAMES = (
    "mailer-daemon",
    "mail delivery subsystem",
    "mail delivery system",
    "mail delivery service",
    "mail administrator",
    "postmaster",
    "microsoft outlook",
    "e-mail delivery",
    "antivirus",
    "anti-virus",
    "virus scanner",
    "mailscanner",
    "mimecast",
    "proofpoint",
    "barracuda",
    "sophos",
    "symantec",
    "messagelabs",
    "trend micro",
    "interscan",
    "mailmarshal",
    "ironport",
    "fortimail",
)


def _squeezed(local: str) -> str:
    return re.sub(r"[-_.\s]", "", local)


def machine_sender(address: str, name: str) -> str:
    """The sender's pattern when a delivery system, list manager, gateway or noreply
    address sent the mail; "" for anyone else."""
    local = address.partition("@")[0].partition("+")[0].lower()
    squeezed = _squeezed(local)
    if squeezed in SENDER_LOCAL_PARTS:
        return local
    for infix in SENDER_LOCAL_INFIXES:
        if infix in squeezed:
            return f"*{infix}*"
    for suffix in SENDER_LIST_SUFFIXES:
        if local.endswith(suffix) and len(local) > len(suffix):
            return f"*{suffix}@"
    for prefix in SENDER_LIST_PREFIXES:
        if local.startswith(prefix) and len(local) > len(prefix):
            return f"{prefix}*@"
    lowered = " ".join(name.lower().split())
    for known in SENDER_NAMES:
        if lowered.startswith(known):
            return f'"{known}"'
    return ""


# -- subjects --------------------------------------------------------------------------------

# Wordings that start the subject of a bounce or an auto-reply, lower case. Each counts only
# when a colon, a parenthesis or the end of the subject follows it.
SUBJECT_PREFIXES: dict[str, tuple[str, ...]] = {
    "en": (
        "undeliverable",
        "undeliverable mail",
        "undelivered",
        "undelivered mail",
        "returned mail",
        "delivery status notification",
        "delivery notification",
        "delivery report",
        "delivery failure",
        "delivery failed",
        "delivery has failed",
        "delivery delayed",
        "delayed mail",
        "failure notice",
        "mail delivery failed",
        "mail delivery failure",
        "mail system error",
        "message not delivered",
        "non-delivery report",
        "nondeliverable mail",
        "not delivered",
        "out of office",
        "out of the office",
        "out-of-office",
        "out of office autoreply",
        "out of office reply",
        "auto reply",
        "autoreply",
        "auto-reply",
        "auto response",
        "autoresponse",
        "auto-response",
        "automatic reply",
        "automatic response",
        "automated reply",
        "automated response",
        "vacation reply",
        "away from the office",
    ),
    "sv": (
        "automatiskt svar",
        "autosvar",
        "frånvarande",
        "frånvaromeddelande",
        "olevererbart",
        "ej levererat",
        "ej levererbart",
        "kunde inte levereras",
        "leveransfel",
        "leveransstatus",
        "returnerat meddelande",
    ),
    "de": (
        "unzustellbar",
        "nicht zustellbar",
        "nicht zugestellt",
        "zustellung fehlgeschlagen",
        "abwesenheitsnotiz",
        "automatische antwort",
        "automatische abwesenheitsnotiz",
        "abwesend",
        "benachrichtigung zum übermittlungsstatus",
        "urlaubsabwesenheit",
    ),
    "fr": (
        "non remis",
        "non distribuable",
        "non délivré",
        "échec de la remise",
        "réponse automatique",
        "reponse automatique",
        "absent du bureau",
        "absence du bureau",
        "message d'absence",
        "notification d'état de remise",
    ),
    "es": (
        "no se puede entregar",
        "no entregado",
        "mensaje no entregado",
        "error de entrega",
        "respuesta automática",
        "respuesta automatica",
        "fuera de la oficina",
        "notificación de estado de entrega",
    ),
    "nl": (
        "onbestelbaar",
        "niet bezorgd",
        "kan niet worden bezorgd",
        "automatisch antwoord",
        "afwezig",
        "niet aanwezig",
        "buiten kantoor",
        "bezorgingsstatusmelding",
    ),
    "no": (
        "automatisk svar",
        "autosvar",
        "ikke levert",
        "kan ikke leveres",
        "kunne ikke leveres",
        "leveringsfeil",
        "fraværende",
        "fravær",
        "ikke på kontoret",
    ),
    "da": (
        "automatisk svar",
        "ikke leveret",
        "kunne ikke leveres",
        "kan ikke leveres",
        "fraværende",
        "ude af kontoret",
        "returneret post",
    ),
    "fi": (
        "automaattinen vastaus",
        "poissa",
        "poissaoloviesti",
        "poissa toimistolta",
        "ei voitu toimittaa",
        "toimittamaton",
        "toimitus epäonnistui",
        "lomavastaaja",
    ),
}

# Fixed wordings of whole subjects, searched from the start (or anywhere: `awaits moderator
# approval` is nothing a person writes).
SUBJECT_SHAPES: tuple[str, ...] = (
    r"^undelivered mail returned to sender",
    r"^mail system error\b.*\breturned mail",
    r"^warning: could not send message",
    r"^(?:your )?(?:e-?mail|message|mail) (?:could not|couldn't|was not|wasn't) (?:be )?"
    r"delivered\s*(?:[:(]|$)",
    r"^your (?:e-?mail|message) to \S+ (?:could not|couldn't|was not|wasn't) (?:be )?delivered",
    r"^auto: .*\bout of (?:the )?office",  # IBM Notes
    r"\bawaits moderator approval\b",
    r"^your (?:message|post|posting)\b.{0,200}\bnot (?:a )?member of\b",
    r"^you are not (?:a )?member of\b",
    r"^non-?member (?:post|posting|submission)\b",
    r"^your (?:message|post) (?:to|for) \S+ (?:is being held|has been held)\b",
)

_TAGS = r"^(?:\s*\[[^\]]{0,40}\])*\s*"  # "[SPAM] Undeliverable: ..."


def _prefix_pattern() -> re.Pattern[str]:
    words = sorted({w for ws in SUBJECT_PREFIXES.values() for w in ws}, key=len, reverse=True)
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(_TAGS + rf"(?:{alternatives})\s*(?:[:\uff1a(]|$)", re.IGNORECASE)


_SUBJECT_PREFIX = _prefix_pattern()
_SUBJECT_SHAPES = tuple(re.compile(shape, re.IGNORECASE) for shape in SUBJECT_SHAPES)


def machine_subject(subject: str) -> str:
    """The wording that makes `subject` a bounce's or an auto-reply's; "" when none does."""
    text = " ".join(subject.split())
    found = _SUBJECT_PREFIX.match(text)
    if found:
        return found.group(0).strip(" :\uff1a(").lower()
    for shape in _SUBJECT_SHAPES:
        hit = shape.search(text)
        if hit:
            return hit.group(0).lower()
    return ""


# -- bodies ----------------------------------------------------------------------------------

# An away notice starts the text: "Jag är på semester till ...". Used for mail from staff and
# contractors only, where such a text must not go to a customer as the desk's answer; a
# customer may well write it as the first words of a real question.
_GREETING = r"(?:(?:hej|hejsan|hi|hello|hallo|hei|moi|hola|bonjour|dear [^\n,]{1,40})[!,.]?\s+)?"
_THANKS = (
    r"(?:(?:thank you|thanks) for your (?:e-?mail|message|mail)|tack för ditt "
    r"(?:e-?post|mejl|mail|meddelande)|vielen dank für ihre (?:e-?mail|nachricht)|merci "
    r"(?:pour|de) votre (?:message|e-?mail|courriel)|gracias por su (?:mensaje|correo)|"
    r"bedankt voor uw (?:bericht|e-?mail)|takk for (?:din )?(?:e-?post|mail|henvendelse)|"
    r"tak for (?:din )?(?:e-?mail|mail|henvendelse)|kiitos viestistäsi)[.!,]?\s*"
)
AWAY_OPENINGS: tuple[str, ...] = (
    r"i(?:'m| am) (?:currently |now )?(?:out of (?:the )?office|away from (?:the |my )?"
    r"(?:office|desk)|on (?:annual |parental |sick )?(?:leave|vacation|holiday))",
    r"jag är (?:för närvarande |just nu |tyvärr )?(?:ledig|på semester|tjänstledig|"
    r"föräldraledig|sjukskriven|frånvarande|borta|bortrest|på tjänsteresa|inte på kontoret|"
    r"inte i tjänst)",
    r"ich bin (?:derzeit |zurzeit |momentan |bis [^\n]{1,40} )?(?:nicht im büro|abwesend|"
    r"außer haus|im urlaub|nicht erreichbar)",
    r"je suis (?:actuellement )?(?:absente?|en congés?|en vacances|hors du bureau)",
    r"(?:estoy|me encuentro) (?:actualmente )?(?:fuera de la oficina|de vacaciones|ausente)",
    r"ik ben (?:momenteel |tot [^\n]{1,40} )?(?:afwezig|niet aanwezig|met vakantie|"
    r"niet op kantoor|buiten kantoor)",
    r"jeg er (?:for tiden |p\.t\. )?(?:på ferie|fraværende|ikke på kontoret|ude af kontoret|"
    r"borte|sykmeldt|sygemeldt)",
    r"olen (?:tällä hetkellä )?(?:lomalla|poissa|vuosilomalla|sairauslomalla|työmatkalla)",
)
_AWAY = re.compile(rf"^\s*{_GREETING}(?:{_THANKS})?(?:{'|'.join(AWAY_OPENINGS)})", re.IGNORECASE)


# ... and says how mail is read meanwhile or whom to turn to, as such notices do ("Jag är
# ledig imorgon men Lisa kommer kl 10" is a person's answer).
_AWAY_CONTEXT = re.compile(
    r"e-?post|mejl|e-?mail|\bmail|inbox|access|tillgång|läser|kontakta|contact|kontakt|"
    r"erreichbar|wenden sie sich|dringend|urgen|brådskande|akut|spoed|yhteyttä|kiireelli",
    re.IGNORECASE,
)


def away_notice(text: str) -> str:
    """The opening that makes `text` an out-of-office notice; "" when it is none."""
    head = text[:600]
    found = _AWAY.match(head)
    if found is None or not _AWAY_CONTEXT.search(head, found.end()):
        return ""
    return " ".join(found.group(0).split()).lower()


# Bounce bodies: only text with one of these words is handed to the bounce parser (it costs
# about a millisecond a mail), and only its start: a bounce says what failed at the top.
_BOUNCE_WORDS = (
    "deliver",
    "recipient",
    "mailbox",
    "transcript",
    "permanent",
    "fatal",
    "user unknown",
    "smtp",
    "qmail",
)
_BOUNCE_WORD = re.compile("|".join(_BOUNCE_WORDS), re.IGNORECASE)
_STATUS_CODE = re.compile(r"\b[45]\.\d\.\d\b|\b5[05]\d\b")
_STATUS_SHAPE = re.compile(r"[45]\.\d\.\d|5[05]\d")  # what a code cannot be without, quick


def bounce_hint(text: str) -> bool:
    """Whether `text` says anything a bounce says: worth asking the bounce parser."""
    if has_any(text, _BOUNCE_WORDS, _BOUNCE_WORD):
        return True
    return _STATUS_SHAPE.search(text) is not None and _STATUS_CODE.search(text) is not None


_BOUNCE_TEXT_CHARS = 20_000


def bounce_body(sender: str, subject: str, text: str) -> tuple[str, ...]:
    """The failed addresses a bounce parser (flufl.bounce) finds in the text; () for none."""
    head = text[:_BOUNCE_TEXT_CHARS]
    if not bounce_hint(head):
        return ()
    try:
        msg = EmailMessage()
        msg["Subject"] = " ".join(subject.split())[:200]
        if sender:
            msg["From"] = sender
        msg.set_content(head)
        temporary, permanent = all_failures(msg)
    except Exception:  # text the email package or a detector chokes on is no verdict
        return ()
    found = {a.decode("ascii", "replace") for a in (*temporary, *permanent)}
    return tuple(sorted(found))
