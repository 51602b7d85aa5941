"""The words of our mail in the reader's language: gettext catalogues, read with babel.

Code writes a phrase in English, marked with `N_` (a word of a kind with `NC_`, so
`pybabel extract -k N_ -k NC_:1c,2` and the tests find them), and keeps it as a `Phrase`:
that text and the values it names. The phrase is put into the recipient's language only
when the mail is composed (`render`). English is the key and the fallback; the other
languages' texts are in `smartmail/locale/<language>/LC_MESSAGES/smartmail.po`, one file
per language.

Values are rendered first (a value may itself be a Phrase, e.g. a status word) and then
put into the translated text with `str.format_map`, so what a sender wrote stays a value
and never becomes part of the text that is formatted.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "smartmail"
LANGUAGES = ("sv", "en")  # what the rules' and people's `language` may be


def N_(text: str) -> str:
    """Mark `text` as a phrase of the catalogue; it is translated when rendered."""
    return text


def NC_(context: str, text: str) -> str:
    """Mark `text` as a word of a kind (`status`, `event`, `usage`, ...) for the catalogue."""
    return text


@dataclass(frozen=True)
class Phrase:
    """English text with `{name}` fields, and the values for them."""

    text: str
    values: tuple[tuple[str, str | int | float | Phrase], ...] = ()
    context: str = ""  # msgctxt: "status" for a status word, "event" for an event kind

    def render(self, language: str) -> str:
        return render(self, language)


def phrase(text: str, /, **values: str | int | float | Phrase) -> Phrase:
    """A phrase with its values; `text` must be marked with N_ where it is written."""
    return Phrase(text, tuple(values.items()))


def word(context: str, text: str) -> Phrase:
    """A single word of a kind (`status`, `event`), translated in its context."""
    return Phrase(text, (), context)


# The case statuses (store.models), marked here so the catalogue has a word for each.
STATUSES = (
    *(NC_("status", "new"), NC_("status", "feedback"), NC_("status", "approved")),
    *(NC_("status", "confirmed"), NC_("status", "assigned"), NC_("status", "resolved")),
    NC_("status", "closed"),
)


def status(name: str) -> Phrase:
    """A case status (new, feedback, ..., closed) as the reader's word for it."""
    return word("status", name)


def join(items: Iterable[str | int | float | Phrase], separator: str = ", ") -> Phrase:
    """Several values as one, each in the reader's language."""
    values = tuple((f"v{i}", item) for i, item in enumerate(items))
    return Phrase(separator.join(f"{{{name}}}" for name, _ in values), values)


def local_time(moment: datetime | None, timezone: ZoneInfo) -> str:
    """A moment as people read it: local time of the rules' zone, the zone marked
    (`2026-11-23 10:00 CET`); "-" for none."""
    if moment is None:
        return "-"
    return moment.astimezone(timezone).strftime("%Y-%m-%d %H:%M %Z")


def render(item: str | int | float | Phrase, language: str) -> str:
    """`item` in `language`; text that is not a Phrase (a subject, an address) as it is."""
    if not isinstance(item, Phrase):
        return str(item)
    if not item.text:  # gettext("") is the catalogue's header
        return ""
    translations = catalogue(language)
    text = (
        translations.pgettext(item.context, item.text)
        if item.context
        else translations.gettext(item.text)
    )
    if not item.values:
        return text
    return text.format_map({name: _value(v, language) for name, v in item.values})


def _value(value: str | int | float | Phrase, language: str) -> str | int | float:
    return render(value, language) if isinstance(value, Phrase) else value


def render_all(items: Iterable[str | Phrase], language: str) -> list[str]:
    return [render(item, language) for item in items]


@functools.lru_cache(maxsize=8)
def catalogue(language: str) -> gettext.NullTranslations:
    """The language's translations; English (the keys themselves) for any other."""
    path = po_path(language)
    if not path.is_file():
        return gettext.NullTranslations()
    mo = BytesIO()
    write_mo(mo, read_catalog(language))
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)
