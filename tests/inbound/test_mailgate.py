"""`ingest`'s client for the daemon's socket, against a scripted LMTP server."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartmail.inbound import mailgate
from smartmail.inbound.mailgate import NotHandedOver, envelope_lines, hand_over, wire_body


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A socket's name is at most 107 bytes; pytest's tmp_path may be longer."""
    with tempfile.TemporaryDirectory(prefix="gate") as name:
        yield Path(name)


def scripted(path: Path, after_data: list[bytes], refuse_mail: bool = False) -> list[bytes]:
    """An LMTP server answering DATA with `after_data` (nothing and a hang-up if empty)."""
    heard: list[bytes] = []
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 test LMTP\r\n")
            in_data = False
            for line in lines:
                heard.append(line)
                if in_data and line == b".\r\n":
                    conn.sendall(b"".join(after_data))
                    break
                if in_data:
                    continue
                if line.startswith(b"MAIL") and refuse_mail:
                    conn.sendall(b"501 no\r\n")
                elif line == b"DATA\r\n":
                    conn.sendall(b"354 go\r\n")
                    in_data = True
                else:
                    conn.sendall(b"250 ok\r\n")
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return heard


RAW = b"From: a@kund.example\nSubject: x\n\nhej\n"


def test_the_answer_per_recipient_maps_to_the_exit_codes(short_dir: Path) -> None:
    path = short_dir / "s"
    scripted(path, [b"250 2.0.0 new_case case 4 <m@x>\r\n"])
    assert hand_over(RAW, None, [], path) == (0, "new_case case 4 <m@x>")
    path.unlink()
    scripted(path, [b"250 2.0.0 stored\r\n", b"451 4.3.0 later\r\n"])
    assert hand_over(RAW, "", ["a@x", "b@x"], path)[0] == 75
    path.unlink()
    scripted(path, [b"554 5.6.0 Empty mail\r\n"])
    assert hand_over(RAW, "a@x", ["b@x"], path) == (65, "Empty mail")


def test_no_answer_after_the_mail_was_sent_means_try_again(short_dir: Path) -> None:
    scripted(short_dir / "s", [])
    assert hand_over(RAW, None, [], short_dir / "s")[0] == 75


def test_what_the_listener_refuses_before_the_pipeline_is_left_to_the_in_process_path(
    short_dir: Path,
) -> None:
    scripted(short_dir / "s", [b"552 Error: Too much mail data\r\n"])
    with pytest.raises(NotHandedOver):
        hand_over(RAW, None, [], short_dir / "s")
    (short_dir / "s").unlink()
    scripted(short_dir / "s", [], refuse_mail=True)
    with pytest.raises(NotHandedOver):
        hand_over(RAW, None, [], short_dir / "s")
    with pytest.raises(NotHandedOver):  # nobody listens
        hand_over(RAW, None, [], short_dir / "none")


def test_the_envelope_says_unknown_sender_and_no_recipient_in_reserved_addresses() -> None:
    assert envelope_lines(None, []) == [
        f"MAIL FROM:<{mailgate.NO_SENDER}>",
        f"RCPT TO:<{mailgate.NO_RECIPIENT}>",
    ]
    assert envelope_lines("", ["a@x", "b@x"]) == ["MAIL FROM:<>", "RCPT TO:<a@x>", "RCPT TO:<b@x>"]
    assert envelope_lines("åsa@kund.example", [])[0] == "MAIL FROM:<åsa@kund.example> SMTPUTF8"


@given(st.text(min_size=1))
def test_no_address_becomes_a_command_of_its_own(address: str) -> None:
    try:
        lines = envelope_lines(address, [address])
    except NotHandedOver:
        return
    assert all("\r" not in line and "\n" not in line for line in lines)
    assert ">" not in address  # it cannot end its own command
    assert " " not in address
    assert lines == [
        f"MAIL FROM:<{address}>" + (" SMTPUTF8" * (not address.isascii())),
        f"RCPT TO:<{address}>",
    ]


def test_the_mail_crosses_with_crlf_and_dot_stuffing() -> None:
    assert wire_body(b"a\n.b\r\n..c\n") == b"a\r\n..b\r\n...c\r\n.\r\n"
    assert wire_body(b"") == b".\r\n"
    assert wire_body(b"no end of line") == b"no end of line\r\n.\r\n"
    for raw in (b"a\rb\n", b"x" * 999 + b"\n"):
        with pytest.raises(NotHandedOver):
            wire_body(raw)


def test_the_socket_is_found_in_the_data_dir_as_the_settings_find_it(tmp_path: Path) -> None:
    assert mailgate.socket_path({}, tmp_path) == tmp_path / "data" / "ingest.sock"
    (tmp_path / ".env").write_text('# mine\nexport SMARTMAIL_DATA_DIR="/var/lib/sm" # x\n')
    assert mailgate.socket_path({}, tmp_path) == Path("/var/lib/sm/ingest.sock")
    environ = {"SMARTMAIL_DATA_DIR": "rel"}
    assert mailgate.socket_path(environ, tmp_path) == tmp_path / "rel" / "ingest.sock"
