"""`smartmail access-log` and `smartmail person show|export|erase`: reads and erasure of a
person's data on request, each recorded in the access log (see desk/access.py)."""

from __future__ import annotations

import argparse
import json
import os
import pwd
import sys
from typing import Any

from sqlmodel import Session

from smartmail.app import App
from smartmail.desk import access, erasure, person
from smartmail.mail.phrases import local_time
from smartmail.store.blobs import BlobStore
from smartmail.store.db import transaction
from smartmail.store.models import utcnow

EX_OK, EX_USAGE, EX_DATAERR = 0, 64, 65


def local_user() -> str:
    """Who ran the command: the account, as the system knows it."""
    return f"{pwd.getpwuid(os.getuid()).pw_name} (local)"


def record_case_read(session: Session, data: dict[str, Any], unmasked: bool) -> None:
    action = "case show --unmasked" if unmasked else "case show"
    who = data.get("customer") or ""
    access.record(session, local_user(), action, utcnow(), case=data["number"], person=who)


def cmd_access_log(app: App, args: argparse.Namespace) -> int:
    wanted = access.Filter(case=args.case, person=args.person, since=args.since)
    with transaction(app.engine) as session:
        rows = access.read(session, wanted)
    if args.json:
        print(json.dumps([access.as_dict(r) for r in rows], ensure_ascii=False, indent=2))
        return EX_OK
    zone = app.rules().calendar.timezone
    lines = [access.as_line(r, local_time(r.at, zone)) for r in rows]
    print("\n".join(lines) if lines else "no reads recorded")
    return EX_OK


def cmd_person(app: App, args: argparse.Namespace) -> int:
    address = args.address.strip().lower()
    if "@" not in address:
        print(f"smartmail person: {args.address!r} is not an address", file=sys.stderr)
        return EX_USAGE
    if args.person_command == "erase":
        return _erase(app, address, args.yes)
    now = utcnow()
    with transaction(app.engine) as session:
        data = person.gather(session, address)
        if not data:
            print(f"smartmail person: we hold nothing about {address}", file=sys.stderr)
            return EX_DATAERR
        action = f"person {args.person_command}"
        access.record(session, local_user(), action, now, person=address)
        if args.person_command == "export":
            blobs = BlobStore(app.settings.attachment_dir)
            files = person.export(session, data, blobs, args.to)
    if args.person_command == "export":
        print(f"{args.to}: {files} files ({len(data['messages'])} messages)")
    else:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    return EX_OK


def _erase(app: App, address: str, yes: bool) -> int:
    with transaction(app.engine) as session:
        found = person.gather(session, address)
    if not found:
        print(f"smartmail person: we hold nothing about {address}", file=sys.stderr)
        return EX_DATAERR
    held = [c["number"] for c in found["cases"] if c["hold"] and c["role"] == "customer"]
    if held:
        print(
            f"smartmail person erase: {address} reported cases on legal hold ({held}); "
            "nothing erased: lift the hold (#hold off) first",
            file=sys.stderr,
        )
        return EX_DATAERR
    if not yes and not _confirmed(address, found):
        print("smartmail person erase: nothing erased", file=sys.stderr)
        return EX_USAGE
    now, unlinked = utcnow(), erasure.Unlinked()
    with transaction(app.engine) as session:
        erasure.scrubbing(session)
        done = erasure.erase_person(session, address, now, unlinked)
        access.record(session, local_user(), "person erase", now, person=done.marker)
    with transaction(app.engine) as session:
        erasure.scrubbing(session)
        files = unlinked.remove(session, BlobStore(app.settings.attachment_dir))
    files += erasure.forget_in_files(app.settings.sent_dir, address)
    files += erasure.forget_in_files(app.settings.data_dir / "sms", address)  # the log provider
    erasure.compact(app.engine)
    print(
        f"{address}: erased as {done.marker}: cases {done.cases or '-'}, {done.messages} "
        f"messages, {done.raw_mail} raw mails, {files} files"
    )
    return EX_OK


def _confirmed(address: str, found: dict[str, Any]) -> bool:
    print(
        f"{address}: {len(found['cases'])} cases, {len(found['messages'])} messages. "
        "Type the address to erase it for good:",
        file=sys.stderr,
    )
    if not sys.stdin.isatty():
        print("smartmail person erase: not a terminal; give --yes", file=sys.stderr)
        return False
    return sys.stdin.readline().strip().lower() == address
