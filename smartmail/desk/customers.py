"""What we know of a customer: the words of their earlier cases. Read-only.

Routing by area looks here when the mail itself names no area: a tenant's street and flat
are usually in the signature of the first mail they ever sent us.
"""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from smartmail.store import prepared
from smartmail.store.models import Case, Message, Party

_EARLIER_CASES = 5
_EARLIER_TEXTS = (
    select(Message.text)
    .join(Case, col(Case.id) == col(Message.case_id))
    .where(Case.customer_id == bindparam("customer"), Message.direction == "in")
    .order_by(col(Message.id).desc())
    .limit(_EARLIER_CASES)
)


def known_text(session: Session, customer: Party) -> str:
    """The text of the customer's latest mail on their cases, newest first; "" for strangers."""
    if customer.id is None:
        return ""
    rows = prepared.rows(session, _EARLIER_TEXTS, customer=customer.id)
    return "\n".join(row[0] for row in rows)
