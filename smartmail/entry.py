"""The `smartmail` command's front door: `ingest` first tries the running daemon.

Standard library only: an MTA pipe starts `smartmail ingest` once per mail, and handing the
mail to the daemon (inbound/mailgate.py) must not pay for loading the pipeline. Every other
command, and `ingest` when no daemon takes the mail, loads what it needs after that.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from smartmail.inbound import mailgate

EX_NOINPUT = 66


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["ingest"]:
        return ingest(args[1:])
    if args == ["run"]:
        from smartmail.starting import run  # the ports first: see there

        return run()
    # Loading the command makes hundreds of thousands of objects that live as long as the
    # process: the collector's passes over them meanwhile took a tenth of the start. They
    # are kept out of its later passes too (freeze), which the daemon runs for days.
    gc.disable()
    from smartmail.cli import main as cli_main  # after the check: `ingest` never loads it

    gc.freeze()
    gc.enable()
    return cli_main(args)


def ingest_parser() -> argparse.ArgumentParser:
    """`smartmail ingest`'s options (cli.py lists the same under `smartmail --help`)."""
    parser = argparse.ArgumentParser(
        prog="smartmail ingest", description="one raw mail through the pipeline (an MTA pipe)"
    )
    parser.add_argument("file", nargs="?", default="-", help="a .eml file, or - for stdin")
    parser.add_argument("--sender", help="the envelope sender, if the MTA passes it")
    parser.add_argument("--recipient", action="append", default=[], help="envelope recipient")
    return parser


def ingest(argv: Sequence[str]) -> int:
    args = ingest_parser().parse_args(argv)
    raw = mailgate.read_mail(args.file)
    if raw is None:
        return EX_NOINPUT
    try:
        code, text = mailgate.hand_over(raw, args.sender, args.recipient, mailgate.socket_path())
    except mailgate.NotHandedOver:
        from smartmail.ingest import in_process  # no daemon took it: store it here

        return in_process(raw, args.sender, args.recipient)
    print(text, file=sys.stdout if code == mailgate.EX_OK else sys.stderr)
    return code
