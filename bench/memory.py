"""Memory benchmark: the daemon's resident memory while it takes large mail.

    .venv/bin/python bench/memory.py [--size-mb 20] [--parallel 8] [--settle 15]

Starts the real daemon (`smartmail run`) on a fresh data dir and measures its resident
memory (VmRSS) when idle after its first sweep and one small mail (what the first mail
loads once, templates, charset models, is no cost of the mail's size), then its peak
(VmHWM, reset before each round through /proc/PID/clear_refs) while it takes one mail of
`--size-mb` MB (a photo as an attachment; the size is the mail's on the wire) and then
`--parallel` such mails at once over as many SMTP connections. Each peak is printed next
to its budget, the idle size plus three times the mail in flight. The check line says
every mail got its 250. The daemon's child processes (the parsing child) are measured apart:
large mail is parsed in the daemon itself.
"""

from __future__ import annotations

import argparse
import os
import random
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

RULES = Path(__file__).resolve().parent.parent / "rules.yaml"
COMMAND = Path(sys.executable).with_name("smartmail")
DESK = "felanmalan@bostad.example"
MB = 1024 * 1024


def big_mail(index: int, size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"kund{index}@kund.example"
    msg["To"] = DESK
    msg["Subject"] = f"Foto av vattenskadan {index}"
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content("Här är bilden på skadan i badrummet.")
    photo = random.Random(index).randbytes(size * 3 // 4)  # base64 makes it 4/3
    msg.add_attachment(photo, "image", "jpeg", filename=f"skada{index}.jpg")
    return msg.as_bytes(policy=SMTP)  # CRLF, as it crosses SMTP


def status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) // 1024
    return fields


def children(pid: int) -> list[int]:
    """The daemon's child processes: the parsing child (listed under the thread that
    started it)."""
    listed = " ".join(p.read_text() for p in Path(f"/proc/{pid}/task").glob("*/children"))
    return [int(child) for child in listed.split()]


def children_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM summed over the daemon's children (0 without any)."""
    total = {"VmRSS": 0, "VmHWM": 0}
    for child in children(pid):
        try:
            for name, value in status(child).items():
                total[name] += value
        except FileNotFoundError:  # it ended meanwhile
            continue
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def send_all(port: int, mails: list[bytes]) -> int:
    """Send the mails at once, one connection each; how many got their 250."""
    ok = []

    def send(raw: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=600) as client:
            client.sendmail("kund@kund.example", [DESK], raw)
            ok.append(1)

    threads = [threading.Thread(target=send, args=(raw,)) for raw in mails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--settle", type=float, default=15.0)
    args = parser.parse_args(argv)
    size = args.size_mb * MB
    mails = [big_mail(i, size) for i in range(args.parallel + 1)]
    wire = len(mails[0]) / MB
    with tempfile.TemporaryDirectory(prefix="smartmail-memory-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTMAIL_")}
        env.update(
            SMARTMAIL_DATA_DIR=str(Path(tmp) / "data"),
            SMARTMAIL_RULES=str(RULES),
            SMARTMAIL_LISTEN=f"127.0.0.1:{port}",
            SMARTMAIL_SECRET="bench-secret",
            SMARTMAIL_MAX_MESSAGE_SIZE=str(4 * size),
            SMARTMAIL_LOG_LEVEL="WARNING",
        )
        daemon = subprocess.Popen(
            [str(COMMAND), "run"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(args.settle)
            send_all(port, [big_mail(len(mails), 64 * 1024)])  # the first mail's one-off cost
            time.sleep(1)
            idle = status(daemon.pid)["VmRSS"]
            idle_children = children_status(daemon.pid)["VmRSS"]
            rounds = []
            for batch in (mails[:1], mails[1:]):
                for pid in (daemon.pid, *children(daemon.pid)):
                    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
                stored = send_all(port, batch)
                peak = status(daemon.pid)["VmHWM"]
                rounds.append((len(batch), stored, peak, children_status(daemon.pid)))
        finally:
            daemon.terminate()
            daemon.wait()
    print(
        f"daemon idle (after one small mail): {idle} MB, its child processes {idle_children} MB; "
        f"mails of {wire:.1f} MB on the wire"
    )
    failed = 0
    for count, stored, peak, child in rounds:
        budget = idle + 3 * count * wire
        failed += count - stored
        print(
            f"{count} mail(s) at once: peak {peak} MB = idle + {(peak - idle) / (count * wire):.1f}"
            f"x the mail in flight (budget idle + 3x = {budget:.0f} MB); its child processes "
            f"{child['VmRSS']} MB after, peak {child['VmHWM']} MB"
        )
    print(f"check: {failed} mails not stored: {'ok' if failed == 0 else 'FAILED'}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
