"""Machine mail that looks like a person's, and people's mail that looks like a machine's.

Generated (deterministically) from templates x languages x vendors, for measuring the guard:
every machine mail here carries NO standard header (no Auto-Submitted, no
multipart/report, no List-Id, a normal envelope sender), so only the sender, the subject's
shape or the body can tell. The human mail is what a landlord's desk really gets, including
people whose subject or text says "out of office" in a sentence, Swedish tenants, replies.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

DESK = "felanmalan@bostad.example"
SUBJECTS = ("Stopp i avloppet", "Kranen droppar", "[#12-k4m2q8xz] Element kalla", "Heizung")


@dataclass(frozen=True)
class Sample:
    kind: str  # what it is, for the failure message
    raw: bytes
    staff: bool = False  # sent by one of the desk's own staff (their answers reach customers)


def _mail(sender: str, name: str, subject: str, body: str, n: int, to: str = DESK) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((name, sender)) if name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<gen-{n}@fixtures.example>"
    msg["Date"] = "Mon, 23 Nov 2026 09:00:00 +0100"
    msg.set_content(body)
    return msg.as_bytes()


# -- machines ----------------------------------------------------------------------------------

# (language, subject template) of non-delivery reports as vendors word them.
BOUNCE_SUBJECTS = (
    ("en", "Undeliverable: {s}"),
    ("en", "Undeliverable mail: {s}"),
    ("en", "Returned mail: see transcript for details"),
    ("en", "Returned mail: User unknown"),
    ("en", "Delivery Status Notification (Failure)"),
    ("en", "Delivery Status Notification (Delay)"),
    ("en", "Mail delivery failed: returning message to sender"),
    ("en", "Undelivered Mail Returned to Sender"),
    ("en", "failure notice"),
    ("en", "Delivery failure"),
    ("en", "DELIVERY FAILURE: User eva (eva@kund.example) not listed in Domino Directory"),
    ("en", "Message could not be delivered"),
    ("en", "Your message to eva@kund.example couldn't be delivered"),
    ("en", "Mail System Error - Returned Mail"),
    ("en", "Warning: could not send message for past 4 hours"),
    ("en", "Delivery delayed: {s}"),
    ("sv", "Olevererbart: {s}"),
    ("sv", "Ej levererat: {s}"),
    ("sv", "Kunde inte levereras: {s}"),
    ("de", "Unzustellbar: {s}"),
    ("de", "Nicht zustellbar: {s}"),
    ("de", "Benachrichtigung zum Übermittlungsstatus (Fehler)"),
    ("fr", "Non remis : {s}"),
    ("fr", "Non distribuable : {s}"),
    ("es", "No se puede entregar: {s}"),
    ("es", "Notificación de estado de entrega (Error)"),
    ("nl", "Onbestelbaar: {s}"),
    ("no", "Ikke levert: {s}"),
    ("no", "Kan ikke leveres: {s}"),
    ("da", "Kunne ikke leveres: {s}"),
    ("fi", "Ei voitu toimittaa: {s}"),
    ("fi", "Toimittamaton: {s}"),
)
AUTO_REPLY_SUBJECTS = (
    ("en", "Automatic reply: {s}"),
    ("en", "Out of Office: {s}"),
    ("en", "Out of Office AutoReply: {s}"),
    ("en", "Out of office"),
    ("en", "AutoReply: {s}"),
    ("en", "Auto reply: {s}"),
    ("en", "Autoreply: {s}"),
    ("en", "Auto-Reply: {s}"),
    ("en", "Auto Response: {s}"),
    ("en", "Automatic Response (Out of Office)"),
    ("en", "Auto: Eva Berg is out of the office (returning 2026-12-01)"),
    ("sv", "Automatiskt svar: {s}"),
    ("sv", "Frånvarande: {s}"),
    ("sv", "Autosvar: {s}"),
    ("de", "Abwesenheitsnotiz: {s}"),
    ("de", "Automatische Antwort: {s}"),
    ("fr", "Réponse automatique : {s}"),
    ("fr", "Absent du bureau : {s}"),
    ("es", "Respuesta automática: {s}"),
    ("es", "Fuera de la oficina: {s}"),
    ("nl", "Automatisch antwoord: {s}"),
    ("nl", "Afwezig: {s}"),
    ("no", "Automatisk svar: {s}"),
    ("no", "Fraværende: {s}"),
    ("da", "Automatisk svar: {s}"),
    ("da", "Ude af kontoret: {s}"),
    ("fi", "Automaattinen vastaus: {s}"),
    ("fi", "Poissa: {s}"),
)
LIST_SUBJECTS = (
    "Your message to Hyresgaster awaits moderator approval",
    "Your message to styrelsen@brf.example awaits moderator approval",
    "Your message to Grannar is being held for approval",
    "Your post to hyresgaster@lists.example: not member of the list",
    "You are not a member of the group grannar@lists.example",
    "Non-member submission from eva@kund.example",
)
AWAY_BODIES = {
    "en": "I am currently out of the office with limited access to e-mail. "
    "For urgent matters please contact my colleague.",
    "sv": "Jag är på semester till och med 14 augusti och läser inte min e-post. "
    "Vid brådskande ärenden, kontakta växeln.",
    "de": "Vielen Dank für Ihre Nachricht. Ich bin bis 3. Januar nicht im Büro. "
    "In dringenden Fällen wenden Sie sich bitte an meine Kollegin.",
    "fr": "Merci pour votre message. Je suis absente jusqu'au 5 janvier. "
    "En cas d'urgence, contactez le secrétariat.",
    "es": "Gracias por su mensaje. Estoy fuera de la oficina hasta el lunes. "
    "Para asuntos urgentes contacte con recepción.",
    "nl": "Bedankt voor uw bericht. Ik ben momenteel afwezig. "
    "Voor spoedeisende zaken kunt u contact opnemen met de receptie.",
    "no": "Takk for din e-post. Jeg er på ferie og leser ikke e-post. Kontakt sentralbordet.",
    "da": "Tak for din mail. Jeg er på ferie og læser ikke mail. Kontakt receptionen.",
    "fi": "Kiitos viestistäsi. Olen lomalla enkä lue sähköpostia. Kiireellisissä asioissa ota "
    "yhteyttä vaihteeseen.",
}
BOUNCE_BODIES = (
    # exim
    "This message was created automatically by mail delivery software.\n\n"
    "A message that you sent could not be delivered to one or more of its\n"
    "recipients. This is a permanent error. The following address(es) failed:\n\n"
    "  {addr}\n    SMTP error from remote mail server after RCPT TO:<{addr}>:\n"
    "    550 5.1.1 User unknown\n",
    # qmail
    "Hi. This is the qmail-send program at mx.kund.example.\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
    "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
    "<{addr}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
    "--- Below this line is a copy of the message.\n",
    # sendmail
    "The original message was received at Mon, 23 Nov 2026 09:00:00 +0100\n\n"
    "   ----- The following addresses had permanent fatal errors -----\n<{addr}>\n"
    "    (reason: 550 5.1.1 User unknown)\n\n   ----- Transcript of session follows -----\n",
)
BOUNCE_NOTE = "The mail system could not deliver your message. Details are below."
# Senders that look like people's: only the subject or the body tells.
PLAIN_SENDERS = (
    ("it@kund.example", "Kund AB"),
    ("eva.berg@kund.example", "Eva Berg"),
    ("info@foretag.example", ""),
    ("kontakt@brf-eken.example", "BRF Eken"),
)
MACHINE_SENDERS = (
    ("mailer-daemon@mx.kund.example", ""),
    ("postmaster@kund.example", "Postmaster"),
    ("bounce-7731@mail.kund.example", "Mail Delivery Subsystem"),
    ("delivery@mx.foretag.example", "Mail Delivery System"),
    ("hyresgaster-admin@lists.example", ""),
    ("hyresgaster-owner@lists.example", ""),
    ("grannar-request@lists.example", ""),
    ("grannar-bounces+eva=kund.example@lists.example", ""),
    ("noreply@bank.example", "Banken"),
    ("no-reply@notifications.example", ""),
    ("donotreply@energi.example", "Energibolaget"),
    ("do_not_reply@forsakring.example", ""),
    ("antivirus@gateway.kund.example", "Antivirus"),
    ("scanner@kund.example", "Symantec Mail Security"),
    ("gateway@foretag.example", "Mimecast"),
    ("alerts@foretag.example", "Proofpoint Essentials"),
)
NEUTRAL_MACHINE_TEXTS = (
    ("Din faktura för november", "Hej! Din faktura finns nu i appen."),
    ("Virus found in message", "A message from you was found to contain a virus."),
    ("Kvitto på din betalning", "Tack för din betalning."),
    ("Ny inloggning på ditt konto", "Någon loggade in på ditt konto."),
)


def machine_mails() -> list[Sample]:
    """At least 200 machine mails without any standard header, of every kind in the module
    docstring; each from its own sender, so no rate limit hides a miss."""
    out: list[Sample] = []
    counter = itertools.count()
    subjects = itertools.cycle(SUBJECTS)
    plain = itertools.cycle(PLAIN_SENDERS)
    for (lang, template), body in itertools.product(BOUNCE_SUBJECTS, BOUNCE_BODIES[:2]):
        n = next(counter)
        sender, name = next(plain)
        text = BOUNCE_NOTE + "\n\n" + body.format(addr=f"tenant{n}@kund.example")
        raw = _mail(_own(sender, n), name, template.format(s=next(subjects)), text, n)
        out.append(Sample(f"bounce subject ({lang}): {template}", raw))
    for (lang, template), staff in itertools.product(AUTO_REPLY_SUBJECTS, (False, True)):
        n = next(counter)
        sender, name = next(plain)
        body = AWAY_BODIES[lang]
        raw = _mail(_own(sender, n), name, template.format(s=next(subjects)), body, n)
        out.append(Sample(f"auto-reply subject ({lang}): {template}", raw, staff))
    for subject, (sender, name) in itertools.product(LIST_SUBJECTS, PLAIN_SENDERS[:2]):
        n = next(counter)
        text = "Your mail is held until the list moderator can review it for approval."
        out.append(
            Sample(f"list notice: {subject}", _mail(_own(sender, n), name, subject, text, n))
        )
    for (sender, name), (subject, text) in itertools.product(
        MACHINE_SENDERS, NEUTRAL_MACHINE_TEXTS
    ):
        n = next(counter)
        raw = _mail(_own_domain(sender, n), name, subject, text, n)
        out.append(Sample(f"machine sender: {name or sender}", raw))
    for body, (sender, name) in itertools.product(BOUNCE_BODIES, PLAIN_SENDERS):
        # A bounce with nothing but its text to tell: a normal sender, the subject of a reply.
        n = next(counter)
        text = body.format(addr=f"tenant{n}@kund.example")
        raw = _mail(_own(sender, n), name, f"Re: {next(subjects)}", text, n)
        out.append(Sample(f"bounce body from {sender}", raw))
    return out


def _own_domain(address: str, n: int) -> str:
    local, _, domain = address.partition("@")
    return f"{local}@n{n}.{domain}"


def _own(address: str, n: int) -> str:
    """The address made this sample's own (n in the local part), keeping its shape."""
    local, _, domain = address.partition("@")
    return f"{local}{n}@{domain}"


# -- people ------------------------------------------------------------------------------------

HUMAN_SUBJECTS = (
    "Stopp i avloppet",
    "Kranen i badrummet droppar",
    "Re: [#12-k4m2q8xz] Stopp i avloppet",
    "SV: [#14-ab3d5fgh] Kranen droppar",
    "Sv: Ditt ärende 31",
    "AW: Heizung defekt",
    "VS: Tvättstugan",
    "Fwd: Hissen står still",
    "Out of office next week, can you fix the tap before?",
    "I will be out of office next week, can you fix the tap before?",
    "Out of office until Monday - please come Tuesday",
    "Jag är bortrest nästa vecka, kan ni laga kranen innan?",
    "Frånvarande granne, det läcker vatten från lägenheten ovanför",
    "Frånvaro i januari, nyckel hos grannen",
    "Automatisk dörröppnare i port B är trasig",
    "Autoreply from your system confused me",
    "Why did I get an automatic reply?",
    "My parcel could not be delivered, the mailbox lock is broken",
    "Returned mail in my mailbox belongs to the former tenant",
    "Delivery of the new fridge",
    "Leveransen av nya spisen",
    "Undeliverable parcels pile up in the stairwell",
    "Unzustellbare Pakete im Treppenhaus",
    "Poissa viikon, voitteko korjata hanan ennen?",
    "Ik ben volgende week afwezig, kunnen jullie eerder komen?",
    "Absent la semaine prochaine : pouvez-vous réparer le robinet avant ?",
    "Fuera de casa el lunes, ¿pueden venir el martes?",
    "Fraværende nabo, vannlekkasje",
    "Ude af huset i morgen - nøglen ligger hos naboen",
    "Abwesend ab Montag - bitte vorher die Heizung reparieren",
    "Not a member of the laundry booking system yet",
    "Mail from the board about the annual meeting",
    "Semester: kan ni komma på tisdag?",
    "",
)
HUMAN_BODIES = (
    "Hej!\n\nDet är stopp i avloppet i köket. Jag bor på Storgatan 3, lgh 1102.\n"
    "Ring mig på 070-123 45 67.\n\nMvh Eva",
    "Jag är på semester till 10 juli, men grannen ringde och sa att det läcker från min "
    "lägenhet. Ni får gå in med huvudnyckel.\n\nHälsningar Olle",
    "I am out of the office next week, so could you fix the dripping tap before Friday?\n"
    "Thanks, John",
    "Tack för snabbt svar! Det fungerar nu.\n\nMvh Karin",
    "The delivery of the fridge failed yesterday: the driver said the address was unknown "
    "and the parcel was returned. Can you let them in on Monday?",
    "Hallo, die Heizung ist seit gestern kalt. Ich bin ab Montag abwesend, bitte vorher "
    "reparieren.\nViele Grüße",
    "Hej, jag skickade mejl i går men fick inget svar. Vattnet droppar fortfarande.\n/Ali",
    "Bonjour, je suis absente la semaine prochaine. Pouvez-vous passer avant ?",
)
STAFF_BODIES = (
    "Vi kommer på tisdag kl 10 och byter packningen.\n\nKalle",
    "Tack för ditt mejl! Vi har beställt reservdelen, den kommer på fredag.",
    "Jag är ledig imorgon men Lisa kommer kl 10 och lagar kranen.",
    "I will be out of office next week; Lisa takes over your case.",
    "Hej Eva, rörmokaren kommer i morgon förmiddag. Ring mig om det blir värre.",
)
HUMAN_SENDERS = (
    ("eva@kund.example", "Eva Andersson"),
    ("olle.p@hyresgast.example", "Olle Persson"),
    ("ali.h@mejl.example", "Ali Hassan"),
    ("john.smith@mail.example", "John Smith"),
    ("k.muller@post.example", "Klaus Müller"),
    ("it-support@kund.example", "IT-support Kund AB"),
    ("styrelsen@brf-eken.example", "Styrelsen BRF Eken"),
)


def human_mails() -> list[Sample]:
    """At least 200 people's mails, each from its own sender; some from staff."""
    out: list[Sample] = []
    counter = itertools.count()
    senders = itertools.cycle(HUMAN_SENDERS)
    for subject, body in itertools.product(HUMAN_SUBJECTS, HUMAN_BODIES[:6]):
        n = next(counter)
        sender, name = next(senders)
        out.append(Sample(f"person: {subject!r}", _mail(_own(sender, n), name, subject, body, n)))
    for body, subject in itertools.product(STAFF_BODIES, HUMAN_SUBJECTS[2:6]):
        n = next(counter)
        raw = _mail(f"kalle{n}@bostad.example", "Kalle Karlsson", subject, body, n)
        out.append(Sample(f"staff: {body[:40]!r}", raw, staff=True))
    return out
