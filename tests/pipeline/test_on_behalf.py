"""A case staff open for a customer (#customer): what a staff member writes into the
customer's name, subject and address never becomes a header or a recipient of ours."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from smartmail.app import App
from smartmail.mail.addr import recipient
from smartmail.mail.tokens import reply_address
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Case, Outbox
from tests.mail.test_compose_fuzz import FIELDS

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
DESK = "felanmalan@bostad.example"
KALLE = "kalle@bostad.example"
NASTY = st.lists(
    st.sampled_from(["\r\n", "\n", "\x00", "=?utf-8?q?", "?=", '"', ",", "<", ">", "@", "Å", "x"]),
    max_size=12,
).map("".join)


def staff_mail(app: App, body: str, subject: str = "Samtal", sender: str = KALLE) -> bytes:
    """A staff member's mail to their own reply address (about no case: number 0)."""
    msg = EmailMessage()
    msg["From"], msg["Subject"] = sender, subject
    msg["To"] = reply_address(DESK, 0, sender, app.settings.secret)
    msg["Message-ID"] = make_msgid(domain="bostad.example")
    msg.set_content(body)
    return msg.as_bytes()


def process(app: App, raw: bytes) -> str:
    to = message_from_bytes(raw, policy=policy.default)["To"]
    return app.pipeline.process(raw, Envelope("smtp", KALLE, (str(to),)), NOW).kind


def test_the_case_is_the_customer_s_and_the_staff_member_hears_its_number(app: App) -> None:
    body = '#kund eva@kund.example "Eva Lind"\n#kanal brev\n#typ x\nEva skrev ett brev om avloppet.'
    assert process(app, staff_mail(app, body)) == "new_case"
    with transaction(app.engine) as session:
        case = session.exec(select(Case)).one()
        assert (case.channel, case.customer.email, case.customer.name) == (
            "letter",
            "eva@kund.example",
            "Eva Lind",
        )
        assert case.group == "Stopp i avlopp"
        rows = session.exec(select(Outbox)).all()
    sent = [message_from_bytes(r.body, policy=policy.default) for r in rows]
    to = sorted(str(m["To"]) for m in sent)
    assert {"eva@kund.example", KALLE} <= set(to)  # the acknowledgement, the confirmation
    texts = [m.get_content() for m in sent if m["To"] == KALLE]
    confirmation = next(t for t in texts if "ärende 1 öppnat åt eva@kund.example (brev)" in t)
    assert (
        "#typ x: okänd typ" in confirmation
    )  # these rules have no types  # no types in these rules


def test_a_staff_member_s_mail_to_the_plain_address_opens_nothing(app: App) -> None:
    raw = staff_mail(app, "#kund eva@kund.example\nEva ringde.")
    raw = raw.replace(reply_address(DESK, 0, KALLE, app.settings.secret).encode(), DESK.encode())
    process(app, raw)
    with transaction(app.engine) as session:
        assert session.exec(select(Case)).all() == []


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=NASTY, subject=NASTY, address=NASTY)
def test_hostile_names_and_subjects_stay_text(
    app: App, name: str, subject: str, address: str
) -> None:
    line = " ".join(name.splitlines())
    target = f"eva{' '.join(address.split())}@kund.example" if address else "eva@kund.example"
    body = f'#kund {target} "{line}"\nDet är stopp i avloppet.'
    with transaction(app.engine) as session:
        before = {r.id for r in session.exec(select(Outbox)).all()}
    process(app, staff_mail(app, body, " ".join(subject.split()) or "x"))
    with transaction(app.engine) as session:
        rows = [r for r in session.exec(select(Outbox)).all() if r.id not in before]
    for row in rows:
        sent = message_from_bytes(row.body, policy=policy.default)
        assert set(sent.keys()) <= set(FIELDS)
        recipients = row.rcpt_to.split(",")
        assert len(recipients) == 1
        assert str(sent["To"]) == recipients[0]
        assert recipient(recipients[0]) == recipients[0]  # one checked address, as written
        assert not set(recipients[0]) & set(' ,;<>"\r\n\x00')


def test_a_case_for_one_of_our_own_addresses_is_refused(app: App) -> None:
    body = "#kund hyra+x@bostad.example\nSvara dig själv."
    assert process(app, staff_mail(app, body)) == "commands"
    with transaction(app.engine) as session:
        assert session.exec(select(Case)).all() == []
        rows = session.exec(select(Outbox)).all()
    (told,) = [message_from_bytes(r.body, policy=policy.default) for r in rows]
    assert told["To"] == KALLE
    assert "det är en av våra egna adresser" in told.get_content()
