"""DATA as the listener reads it: whole, exact, limited, and never past its end."""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import partial

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smartmail.inbound.smtp import BulkDataSMTP, longest_line, read_data
from tests.conftest import free_port

LIMIT = 200_000


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


# ------------------------------------------------------------------ read_data, piece by piece


def read_in_pieces(
    stream: bytes, cut: int, reader_limit: int, limit: int | None = None
) -> tuple[bytes, int, bytes]:
    """read_data over `stream` arriving in two pieces split at `cut`; and what it left."""

    async def run() -> tuple[bytes, int, bytes]:
        reader = asyncio.StreamReader(limit=reader_limit)
        reading = asyncio.create_task(read_data(reader, limit))
        reader.feed_data(stream[:cut])
        await asyncio.sleep(0)  # let it read the first piece before the second arrives
        reader.feed_data(stream[cut:])
        reader.feed_eof()
        data, size = await reading
        return data, size, await reader.read()

    return asyncio.run(run())


STREAMS = {
    "empty": (b"", b""),
    "one line": (b"Subject: x\r\n", b"Subject: x\r\n"),
    "dots": (b"..\r\n.x\r\nslut.\r\n..\r\nA.\r\n", b"..\r\n.x\r\nslut.\r\n..\r\nA.\r\n"),
    "a dot line first": (b"..\r\nB\r\n", b"..\r\nB\r\n"),
}


@pytest.mark.parametrize("reader_limit", [4, 11, 1001])
@pytest.mark.parametrize("name", list(STREAMS))
def test_data_ends_at_the_lone_dot_wherever_the_pieces_split(name: str, reader_limit: int) -> None:
    sent, expected = STREAMS[name]
    stream = sent + b".\r\nQUIT\r\n"
    for cut in range(len(stream) + 1):
        data, size, left = read_in_pieces(stream, cut, reader_limit)
        assert (data, size, left) == (expected, len(expected), b"QUIT\r\n"), cut


def test_data_over_the_limit_is_read_to_its_end_and_not_kept() -> None:
    body = b"x" * 70 + b"\r\n"
    stream = body * 100 + b".\r\nMAIL FROM:<a@b>\r\n"
    data, size, left = read_in_pieces(stream, 1234, 1001, limit=1000)
    assert (data, size, left) == (b"", 7200, b"MAIL FROM:<a@b>\r\n")


# ------------------------------------------------------------------ over a real connection


class Recorder:
    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        self.contents.append(envelope.original_content)
        return "250 2.0.0 stored"


class ServerController(Controller):
    def __init__(self, server: type[SMTP], handler: Recorder, port: int) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=port)
        self.server_class = server

    def factory(self) -> SMTP:
        return self.server_class(self.handler, data_size_limit=LIMIT, decode_data=False)


# aiosmtpd's own SMTP too: what BulkDataSMTP changes is how DATA is read, never the answers.
@pytest.fixture(params=[BulkDataSMTP, SMTP], ids=["BulkDataSMTP", "aiosmtpd"])
def listener(request: pytest.FixtureRequest) -> Iterator[tuple[int, Recorder]]:
    recorder = Recorder()
    port = free_port()
    controller = ServerController(request.param, recorder, port)
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()


def test_lines_that_start_with_a_dot_arrive_as_written(listener: tuple[int, Recorder]) -> None:
    port, recorder = listener
    raw = crlf(".Subject: dots\n\n.\n..\n.x\nslut.\n.\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:  # smtplib adds the dots
        client.sendmail("a@kund.example", ["desk@bostad.example"], raw)
    assert recorder.contents == [raw]


def test_a_large_photo_arrives_byte_for_byte(listener: tuple[int, Recorder]) -> None:
    port, recorder = listener
    photo = os.urandom(140_000)
    msg = EmailMessage()
    msg["Subject"] = "Fuktfläck"
    msg.set_content("Se bilden.")
    msg.add_attachment(photo, maintype="image", subtype="jpeg", filename="fläck.jpg")
    raw = msg.as_bytes().replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("a@kund.example", ["desk@bostad.example"], raw)
    assert recorder.contents == [raw]
    received = message_from_bytes(recorder.contents[0], policy=policy.default)
    assert isinstance(received, EmailMessage)
    (attachment,) = received.iter_attachments()
    assert attachment.get_content() == photo


def test_too_much_data_is_552_and_the_session_goes_on(listener: tuple[int, Recorder]) -> None:
    port, recorder = listener
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.helo()  # no ESMTP SIZE: the size is found out during DATA
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@kund.example", ["d@b.example"], (b"x" * 70 + b"\r\n") * 3000)
        assert refused.value.smtp_code == 552
        client.sendmail("a@kund.example", ["d@b.example"], b"Subject: small\r\n\r\nok\r\n")
    assert recorder.contents == [b"Subject: small\r\n\r\nok\r\n"]


def test_a_line_over_1000_is_500_and_the_session_goes_on(listener: tuple[int, Recorder]) -> None:
    port, recorder = listener
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        longest = b"y" * 999 + b"\r\n"  # 1001 with its CRLF: aiosmtpd's limit, allowed
        client.sendmail("a@kund.example", ["d@b.example"], b"Subject: a\r\n\r\n" + longest)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@kund.example", ["d@b.example"], b"Subject: b\r\n\r\ny" + longest)
        assert refused.value.smtp_code == 500
        client.sendmail("a@kund.example", ["d@b.example"], b"Subject: c\r\n\r\nok\r\n")
    assert recorder.contents == [b"Subject: a\r\n\r\n" + longest, b"Subject: c\r\n\r\nok\r\n"]


class Conversation:
    """A raw SMTP client: what it writes goes as it is, pipelined or cut off."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        assert self.reply().startswith(b"220")

    def reply(self) -> bytes:
        lines = [self.file.readline()]
        while lines[-1][3:4] == b"-":
            lines.append(self.file.readline())
        return b"".join(lines)

    def say(self, text: bytes) -> bytes:
        self.sock.sendall(text)
        return self.reply()

    def up_to_data(self) -> None:
        """HELO, MAIL and RCPT, then DATA, answered 354."""
        for command in (
            b"HELO kund.example",
            b"MAIL FROM:<a@kund.example>",
            b"RCPT TO:<d@b.example>",
        ):
            assert self.say(command + b"\r\n").startswith(b"250")
        assert self.say(b"DATA\r\n").startswith(b"354")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_a_quit_pipelined_after_the_dot_is_answered(listener: tuple[int, Recorder]) -> None:
    port, recorder = listener
    talk = Conversation(port)
    assert talk.say(b"EHLO kund.example\r\n").startswith(b"250")
    talk.sock.sendall(b"MAIL FROM:<a@kund.example>\r\nRCPT TO:<d@b.example>\r\nDATA\r\n")
    assert [talk.reply()[:3] for _ in range(3)] == [b"250", b"250", b"354"]
    assert talk.say(b"Subject: one\r\n\r\nhej\r\n.\r\nQUIT\r\n").startswith(b"250 2.0.0 stored")
    assert talk.reply().startswith(b"221")
    talk.close()
    assert recorder.contents == [b"Subject: one\r\n\r\nhej\r\n"]


def test_data_out_of_turn_is_refused_as_aiosmtpd_refuses_it(
    listener: tuple[int, Recorder],
) -> None:
    port, recorder = listener
    talk = Conversation(port)
    assert talk.say(b"DATA\r\n").startswith(b"503")  # no HELO yet
    talk.say(b"HELO kund.example\r\n")
    talk.say(b"MAIL FROM:<a@kund.example>\r\n")
    assert talk.say(b"DATA\r\n").startswith(b"503")  # no recipient yet
    talk.say(b"RCPT TO:<d@b.example>\r\n")
    assert talk.say(b"DATA now\r\n").startswith(b"501")
    assert talk.say(b"DATA\r\n").startswith(b"354")
    assert talk.say(b"ok\r\n.\r\n").startswith(b"250")
    talk.close()
    assert recorder.contents == [b"ok\r\n"]


@pytest.fixture
def at_data(listener: tuple[int, Recorder]) -> tuple[Conversation, Recorder, int]:
    """A conversation whose DATA was just answered 354."""
    port, recorder = listener
    talk = Conversation(port)
    talk.up_to_data()
    return talk, recorder, port


def test_empty_data_is_delivered_empty(at_data: tuple[Conversation, Recorder, int]) -> None:
    talk, recorder, _port = at_data
    assert talk.say(b".\r\n").startswith(b"250")
    talk.close()
    assert recorder.contents == [b""]


def test_a_client_gone_mid_data_delivers_nothing(
    at_data: tuple[Conversation, Recorder, int],
) -> None:
    talk, recorder, port = at_data
    talk.sock.sendall(b"Subject: half\r\n\r\nand then\r\n")
    talk.close()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:  # the listener still serves
        client.sendmail("a@kund.example", ["d@b.example"], b"Subject: next\r\n\r\nok\r\n")
    assert recorder.contents == [b"Subject: next\r\n\r\nok\r\n"]


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1 << 20])
@pytest.mark.parametrize(
    "data", [b"", b"\r\n", b"a\r\nbb\r\nccc", b"abc\rdef\r\n\r\ng", b"\r\n" * 5 + b"x" * 9]
)
def test_the_longest_line_is_found_in_pieces_as_in_one(data: bytes, piece: int) -> None:
    assert longest_line(data, piece) == max(map(len, data.split(b"\r\n")))


# What MAIL and RCPT arguments are made of: plain paths, and everything that must go to
# aiosmtpd's own reading (quotes, comments, brackets, 8-bit, blanks inside, no @).
PATH_PIECES = st.sampled_from(
    [
        *"<>@.() \t\"[]:;,\\=+-_~!#$%&'*/?^`{|}",
        "a",
        "Kund",
        "felanmalan",
        "bostad.example",
        "xn--bstad-jua.example",
        "åsa",
        "\u0130",
        "SIZE=1234",
        "BODY=8BITMIME",
        "(comment)",
        "[127.0.0.1]",
        '"quoted local"',
        "\r\n",
    ]
)


# Paths the quick reading takes, next to pieces of what it must not.
PLAIN_PATHS = st.builds(
    "<{}@{}>{}".format,
    st.lists(PATH_PIECES, max_size=3).map("".join),
    st.lists(PATH_PIECES, max_size=3).map("".join),
    st.lists(PATH_PIECES, max_size=4).map("".join),
)


@settings(max_examples=600)
@given(
    st.one_of(st.lists(PATH_PIECES, max_size=16).map("".join), PLAIN_PATHS),
    st.sampled_from([0, 4, 64]),
)
@example("<a@b.example>", 0)
@example("<a@b.example>  SIZE=10", 0)
@example("<a@b.example> \t(c) SIZE=10", 0)
@example("<a@b.example>(c)", 0)
@example("<a..b@c>", 0)
@example("<.a@c>", 0)
@example("<felanmalan@bostad.example>", 4)
@example("<a@b.example> x (y)", 0)
@example("<\\@[>", 0)
@example("<", 0)
def test_a_path_reads_as_aiosmtpd_reads_it(arg: str, local_part_limit: int) -> None:
    server = object.__new__(BulkDataSMTP)  # `_getaddr` reads only the limit of the server
    server.local_part_limit = local_part_limit
    assert server._getaddr(arg) == _read(partial(SMTP._getaddr, server), arg)


def _read(getaddr: Callable[[str], tuple[str | None, str | None]], arg: str) -> object:
    """What `getaddr` gives; where aiosmtpd's raises (a lone `<`), ours says no address."""
    try:
        return getaddr(arg)
    except Exception:
        return None, None


def test_a_cut_off_path_is_a_syntax_error_not_a_session_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    controller = ServerController(BulkDataSMTP, Recorder(), port)
    controller.start()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        for cut_off in ("<", "<\\@[>"):  # aiosmtpd's reading raises on each
            code, _reply = client.docmd("MAIL", f"FROM:{cut_off}")
            assert code == 553  # aiosmtpd's answer to an address it cannot read
        assert client.mail("eva@kund.example")[0] == 250  # the session goes on
    controller.stop()
    assert not [record for record in caplog.records if record.exc_info]
