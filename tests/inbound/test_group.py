"""The daemon's writer queue: mail that waits for the writer is committed in one batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from smartmail.errors import TemporaryFailure
from smartmail.inbound import group
from smartmail.inbound.group import GroupCommit
from smartmail.mail.parse import ParsedMail, parse
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.pipeline.process import Pipeline

ENVELOPE = Envelope("smtp", "eva@kund.example", ("felanmalan@bostad.example",))


class HeldPipeline:
    """Records each batch; the first one waits until the test lets it go."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.parsed_ahead: list[list[ParsedMail | None]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def process_many(
        self,
        mails: Sequence[tuple[bytes, Envelope]],
        parsed_ahead: Sequence[Callable[[], ParsedMail | None]] | None = None,
    ) -> list[Outcome | Exception]:
        self.batches.append([raw for raw, _envelope in mails])
        self.parsed_ahead.append([elsewhere() for elsewhere in parsed_ahead or ()])
        if len(self.batches) == 1:
            self.first_started.set()
            self.release.wait(10)
        return [
            TemporaryFailure("disk full") if raw == b"bad" else Outcome("new_case", raw.decode())
            for raw, _envelope in mails
        ]


async def _burst(
    pipeline: HeldPipeline, executor: ThreadPoolExecutor, child: object = None
) -> list[object]:
    writer = GroupCommit(pipeline, executor, parse_child=child)  # type: ignore[arg-type]
    first = asyncio.create_task(writer.process(b"m0", ENVELOPE))
    await asyncio.to_thread(pipeline.first_started.wait, 10)
    rest = [asyncio.create_task(writer.process(raw, ENVELOPE)) for raw in (b"m1", b"bad", b"m2")]
    await asyncio.sleep(0)  # they are queued behind the batch in progress
    pipeline.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_mail_arriving_while_the_writer_is_busy_is_committed_together() -> None:
    pipeline = HeldPipeline()
    with ThreadPoolExecutor(max_workers=1) as executor:
        results = asyncio.run(_burst(pipeline, executor))
    assert pipeline.batches == [[b"m0"], [b"m1", b"bad", b"m2"]]
    assert [r.message_id for r in results if isinstance(r, Outcome)] == ["m0", "m1", "m2"]
    assert isinstance(results[2], TemporaryFailure)  # only that mail is answered 451


def test_a_writer_that_cannot_run_fails_the_mail_for_now() -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    executor.shutdown()
    writer = GroupCommit(Pipeline.__new__(Pipeline), executor)
    with pytest.raises(TemporaryFailure):
        asyncio.run(writer.process(b"m0", ENVELOPE))


class AskedInAThread:
    """As `ParseChild.ask`: `parse` run in one thread of its own, a future per mail."""

    def __init__(self) -> None:
        self.asker = ThreadPoolExecutor(1, "parse")

    def ask(self, raw: bytes, envelope_from: str | None) -> Future[ParsedMail | None]:
        return self.asker.submit(self.parse, raw, envelope_from)

    def parse(self, raw: bytes, envelope_from: str | None) -> ParsedMail | None:
        raise NotImplementedError


class ChildHere(AskedInAThread):
    """Stands in for the parsing child: parses here, and says None for the mail "bad"."""

    def parse(self, raw: bytes, envelope_from: str | None) -> ParsedMail | None:
        return None if raw == b"bad" else parse(raw, envelope_from)


def test_the_writer_gets_each_mail_as_the_child_parsed_it() -> None:
    pipeline = HeldPipeline()
    with ThreadPoolExecutor(max_workers=1) as executor:
        asyncio.run(_burst(pipeline, executor, ChildHere()))
    ahead = [[mail and mail.text for mail in batch] for batch in pipeline.parsed_ahead]
    # m0 found the writer idle: its turn may come before the child's answer (then the
    # writer parses it); the others waited for their turn, "bad" the child did not parse
    assert ahead[0] in ([None], ["m0"])
    assert ahead[1] == ["m1", None, "m2"]


def test_the_clock_waits_while_mail_waits_for_the_writer() -> None:
    """`wait_idle` (the clock's pause) returns once no mail waits or is being stored."""
    pipeline = HeldPipeline()
    order: list[str] = []

    async def burst_and_clock(executor: ThreadPoolExecutor) -> None:
        writer = GroupCommit(pipeline, executor)  # type: ignore[arg-type]
        assert writer.idle.is_set()
        first = asyncio.create_task(writer.process(b"m0", ENVELOPE))
        await asyncio.to_thread(pipeline.first_started.wait, 10)
        assert not writer.idle.is_set()
        clock = threading.Thread(
            target=lambda: (writer.wait_idle(30), order.append("clock")), daemon=True
        )
        clock.start()
        await asyncio.sleep(0.05)
        order.append("mail")  # the clock has not gone on meanwhile
        pipeline.release.set()
        await first
        await asyncio.to_thread(clock.join, 10)
        assert writer.idle.is_set()

    with ThreadPoolExecutor(max_workers=1) as executor:
        asyncio.run(burst_and_clock(executor))
    assert order == ["mail", "clock"]


class SlowChild(AskedInAThread):
    """A parsing child busy with the first mail until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[bytes] = []
        self.busy = threading.Event()
        self.gate = threading.Event()

    def parse(self, raw: bytes, envelope_from: str | None) -> ParsedMail | None:
        self.asked.append(raw)
        self.busy.set()
        self.gate.wait(10)
        return parse(raw, envelope_from)


def test_mail_the_writer_parsed_itself_is_not_sent_to_the_child_after() -> None:
    pipeline, child = HeldPipeline(), SlowChild()
    pipeline.release.set()  # the writer does not wait: the child does

    async def burst(executor: ThreadPoolExecutor) -> None:
        writer = GroupCommit(pipeline, executor, parse_child=child)  # type: ignore[arg-type]
        first = asyncio.create_task(writer.process(b"m0", ENVELOPE))
        await asyncio.to_thread(child.busy.wait, 10)  # the child works on m0
        await asyncio.gather(first, writer.process(b"m1", ENVELOPE))
        child.gate.set()

    with ThreadPoolExecutor(max_workers=1) as executor:
        asyncio.run(burst(executor))
    assert [mail for batch in pipeline.parsed_ahead for mail in batch] == [None, None]
    assert child.asked == [b"m0"]  # m1's turn came first: its request was withdrawn


def test_mail_the_child_has_begun_is_waited_for_not_parsed_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(group, "CHILD_FINISHING", 10.0)
    pipeline, child = HeldPipeline(), SlowChild()
    pipeline.release.set()

    async def one(executor: ThreadPoolExecutor) -> None:
        writer = GroupCommit(pipeline, executor, parse_child=child)  # type: ignore[arg-type]
        stored = asyncio.create_task(writer.process(b"Subject: m0\r\n\r\nhej\r\n", ENVELOPE))
        await asyncio.to_thread(child.busy.wait, 10)  # the child is at it: the writer waits
        threading.Timer(0.05, child.gate.set).start()
        await stored

    with ThreadPoolExecutor(max_workers=1) as executor:
        asyncio.run(one(executor))
    [[parsed]] = pipeline.parsed_ahead
    assert parsed is not None
    assert parsed.subject == "m0"
