"""How fast `#search` and `case list --search` find cases, at 100,000 cases.

    .venv/bin/python bench/search.py [--cases 100000] [--seed 1] [--repeat 15]
        [--database-url postgresql+psycopg://...]

Builds a database on the embedded default (SQLite, schema at the newest revision) with
`--cases` cases of a landlord's office: Swedish subjects and texts of words drawn by a
Zipf law from a vocabulary, an apartment number in each, a customer's mail, an
acknowledgement (machine mail: not indexed) and a staff answer per case, customers at
200 domains, 10 owners, labels on a fifth of the cases, a type on half, two years of
creation dates, most cases closed. The index rows (one per case) are written with the
same function the desk uses (`smartmail.store.search.words`).

Then it runs each search `--repeat` times (after two to warm the cache) through
`smartmail.desk.search.find`, the code `#search` runs, each in a transaction of its own,
and prints the median and 90th percentile per search, how many cases it found, and the
floor from the same run: a plain indexed lookup of one case by its number, and the
newest 50 open cases by the status index (what `find` runs without words or filters).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from smartmail.desk import search
from smartmail.desk.search_filters import parse_filters
from smartmail.rules.model import default_rules
from smartmail.store import search as index
from smartmail.store.db import make_engine, transaction
from smartmail.store.models import OPEN_STATUSES, Case

TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STEMS = [
    "avlopp",
    "stopp",
    "vatten",
    "kran",
    "läck",
    "element",
    "värme",
    "kall",
    "varm",
    "fönster",
    "dörr",
    "lås",
    "nyckel",
    "tvätt",
    "stuga",
    "hiss",
    "trapp",
    "lampa",
    "ljus",
    "el",
    "säkring",
    "spis",
    "ugn",
    "kyl",
    "frys",
    "disk",
    "maskin",
    "golv",
    "tak",
    "vägg",
    "fukt",
    "mögel",
    "lukt",
    "ljud",
    "granne",
    "buller",
    "balkong",
    "förråd",
    "källare",
    "vind",
    "garage",
    "parkering",
    "soprum",
    "sop",
    "cykel",
    "port",
    "kod",
    "porttelefon",
    "brev",
    "låda",
    "hyra",
    "avi",
    "faktura",
    "betal",
    "kontrakt",
    "uppsägning",
    "flytt",
    "besiktning",
    "renovering",
    "målning",
    "tapet",
    "kakel",
    "badrum",
    "kök",
    "toalett",
    "dusch",
    "handfat",
    "ventil",
    "fläkt",
    "filter",
    "radiator",
    "termostat",
]
ENDINGS = ("", "en", "et", "er", "erna", "arna", "na", "ar", "s", "t")
FILLER = [
    "det",
    "är",
    "i",
    "och",
    "på",
    "som",
    "har",
    "jag",
    "vi",
    "ni",
    "inte",
    "en",
    "ett",
    "att",
    "med",
    "för",
    "till",
    "från",
    "nu",
    "igen",
]
STAFF = [f"staff{n}@bostad.example" for n in range(10)]
LABELS = [f"Gata{n}" for n in range(40)] + ["akut", "vatten", "el", "försäkring"]
TYPES = ["fel", "fråga", "beställning", "klagomål"]
STATUSES = ["closed"] * 6 + ["resolved"] * 2 + ["assigned", "feedback"]


def vocabulary() -> list[str]:
    return [stem + ending for stem in STEMS for ending in ENDINGS]


def zipf_words(rng: random.Random, vocab: list[str], weights: list[float], count: int) -> str:
    chosen = rng.choices(vocab, weights=weights, k=count)
    return " ".join(word if rng.random() > 0.25 else rng.choice(FILLER) for word in chosen)


class Writer:
    """Rows in bulk on the driver: SQLite's, or PostgreSQL's (whose index is its own)."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)  # the schema at its newest revision
        self.postgres = self.engine.dialect.name == "postgresql"
        self.raw = self.engine.raw_connection()
        if not self.postgres:
            self.raw.execute("PRAGMA synchronous=OFF")

    def executemany(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        cursor = self.raw.cursor()
        cursor.executemany(sql.replace("?", "%s") if self.postgres else sql, rows)
        cursor.close()

    def commit(self) -> None:
        self.raw.commit()

    def close(self) -> None:
        cursor = self.raw.cursor()
        cursor.execute("ANALYZE")
        cursor.close()
        self.raw.commit()
        self.raw.close()
        self.engine.dispose()


def build(url: str, cases: int, seed: int) -> float:
    """The database, filled; gives the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    vocab = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    rng.shuffle(vocab)
    db = Writer(url)
    customers = [
        (n + 1, f"kund{n}@domän{n % 200}.example", f"Kund {n}", NOW.isoformat())
        for n in range(max(cases * 3 // 10, 1))
    ]
    db.executemany("INSERT INTO party (id, email, name, created_at) VALUES (?,?,?,?)", customers)
    span = timedelta(days=730).total_seconds()
    message_id = 0
    for start in range(0, cases, 5000):
        rows, messages, indexed, labels = [], [], [], []
        for number in range(start + 1, min(start + 5000, cases) + 1):
            created = NOW - timedelta(seconds=span * (1 - number / cases))
            naive = created.replace(tzinfo=None)
            at = naive if db.postgres else naive.isoformat(sep=" ")
            subject = f"{zipf_words(rng, vocab, weights, 4)} lgh {1000 + number % 9000}"
            rows.append(
                (
                    number, subject, rng.choice(STATUSES), "normal", "Övrigt", "",
                    rng.choice(STAFF), "", rng.randrange(len(customers)) + 1, "mail",
                    rng.choice(TYPES) if rng.random() < 0.5 else None, "", 0, at, at, 0, 0,
                )
            )  # fmt: skip
            texts = [
                (zipf_words(rng, vocab, weights, rng.randint(15, 40)), "in", False),
                ("Tack, vi har tagit emot ditt ärende.", "out", True),
                (zipf_words(rng, vocab, weights, rng.randint(8, 20)), "out", False),
            ]
            stems: list[str] = []
            for text, direction, automatic in texts:
                message_id += 1
                messages.append(
                    (message_id, f"<{message_id}@bench>", number, direction, "smtp", "", "",
                     subject, text, "public", automatic, "", "", "", "", at)
                )  # fmt: skip
                if not automatic:
                    stems.extend(index.words(f"{subject}\n{text}"))
            indexed.append((number, " ".join(stems)))
            if rng.random() < 0.2:
                labels.extend((number, label) for label in set(rng.sample(LABELS, 2)))
        db.executemany(
            'INSERT INTO "case" (id, subject, status, priority, category, "group", assignee, '
            "team, customer_id, channel, type, route_reason, reopen_count, created_at, "
            "updated_at, waited_seconds, waited_business_seconds) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.executemany(
            "INSERT INTO message (id, message_id, case_id, direction, channel, from_addr, "
            "to_addrs, subject, text, visibility, automatic, template, thread_signal, "
            "guard_hits, parse_notes, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            messages,
        )
        if not db.postgres:
            db.executemany(f"INSERT INTO {index.SQLITE_TABLE} (rowid, words) VALUES (?,?)", indexed)
        db.executemany("INSERT INTO caselabel (case_id, label) VALUES (?,?)", labels)
        db.commit()
    db.close()
    return time.perf_counter() - started


SEARCHES = [
    "lgh 4711",  # an apartment number: a handful of cases
    "avloppet",  # a common word, by its stem
    "lgh",  # a word in every case
    "mögel badrum",  # two words, each in many cases
    "radiator status:open",
    "fukt owner:staff3@bostad.example since:2026-01-01",
    "label:gata7 status:closed",  # filters only
    "customer:@domän17.example typ:klagomål",
    "läckage kök until:2025-06-30",
]


def timed(run: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    result = None
    for _ in range(2):
        result = run()
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        durations.append((time.perf_counter() - started) * 1000)
    return durations, result


def measure(url: str, cases: int, repeat: int) -> None:
    engine = make_engine(url)
    rules = default_rules("felanmalan@bostad.example")
    rng = random.Random(7)

    def lookup() -> object:
        with transaction(engine) as session:
            return session.exec(
                select(Case).where(Case.id == rng.randrange(1, min(cases, 1000) + 1))
            ).one()

    def newest_open() -> object:
        with transaction(engine) as session:
            query = (
                select(Case)
                .where(col(Case.status).in_(OPEN_STATUSES))
                .order_by(col(Case.id).desc())
                .limit(50)
            )
            return len(session.exec(query).all())

    def finder(query: str) -> Callable[[], object]:
        filters = parse_filters(query)

        def run() -> object:
            with transaction(engine) as session:
                owners = search.resolve_owners(filters, rules, None)
                found = search.find(session, filters, owners, TZ)
                return found.total

        return run

    print(f"{'search':<52} {'median ms':>9} {'p90 ms':>8} {'found':>7}")
    rows = [("floor: one case by its number", lookup), ("floor: newest 50 open", newest_open)]
    rows += [(f"#search {query}", finder(query)) for query in SEARCHES]
    medians = []
    for name, run in rows:
        durations, result = timed(run, repeat)
        median = statistics.median(durations)
        p90 = sorted(durations)[int(0.9 * (len(durations) - 1))]
        found = result if isinstance(result, int) else 1
        print(f"{name:<52} {median:>9.2f} {p90:>8.2f} {found:>7}")
        if name.startswith("#search"):
            medians.append(median)
    print(
        f"searches: median of medians {statistics.median(medians):.2f} ms, "
        f"slowest {max(medians):.2f} ms (target: under 50 ms)"
    )
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", help="an empty PostgreSQL database instead")
    args = parser.parse_args(argv)
    if args.database_url:  # an empty PostgreSQL database (UTF-8 character type)
        seconds = build(args.database_url, args.cases, args.seed)
        print(f"built {args.cases} cases in {seconds:.1f} s (PostgreSQL)")
        measure(args.database_url, args.cases, args.repeat)
        return 0
    with tempfile.TemporaryDirectory(prefix="search-bench-") as directory:
        path = Path(directory) / "smartmail.db"
        url = f"sqlite:///{path}"
        seconds = build(url, args.cases, args.seed)
        size = path.stat().st_size / 1e6
        version = sqlite3.sqlite_version
        print(f"built {args.cases} cases in {seconds:.1f} s ({size:.0f} MB, SQLite {version})")
        measure(url, args.cases, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
