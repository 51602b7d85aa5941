"""The page in a real browser: the distribution's Chromium, driven by Playwright, on a
phone-sized screen. A tenant reports a dripping tap with a photo, sees the confirmation,
opens the link from the acknowledgement and adds a reply. A screenshot of every page is
kept under tests/output/browser/ when the test fails."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Sink
from tests.web.conftest import jpeg
from tests.web.daemon import follow_link, web_daemon, web_url

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = Path(__file__).resolve().parents[1] / "output" / "browser"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """Where the screenshots go; copied under tests/output/ when the test failed."""
    folder = tmp_path / "shots"
    folder.mkdir()
    yield folder
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        target = OUTPUT / request.node.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target)


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium: install Debian's (apt-get install chromium)"
)
def test_a_tenant_reports_on_a_phone_and_follows_the_case(
    tmp_path: Path, sink: Sink, shots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    photo = tmp_path / "kranen.jpg"
    photo.write_bytes(jpeg((800, 600), "steelblue"))
    with web_daemon(tmp_path, sink) as daemon, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, locale="sv-SE"
            )
            page = context.new_page()
            page.goto(web_url(daemon) + "/")
            page.screenshot(path=shots / "1-form.png", full_page=True)
            expect(page.locator("h1")).to_have_text("Felanmälan")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.get_by_label("Namn").fill("Eva Svensson")
            page.get_by_label("E-post").fill("eva@kund.example")
            page.get_by_label("Telefon").fill("070-123 45 67")
            page.get_by_label("Adress och lägenhetsnummer").fill("Storgatan 1, lgh 1203")
            page.get_by_label("Kategori").select_option("Skador i lägenheten")
            page.get_by_label("Beskrivning").fill("Kranen i badrummet droppar hela tiden.")
            page.get_by_label("Foton eller PDF-filer").set_input_files(str(photo))
            page.screenshot(path=shots / "2-filled.png", full_page=True)
            page.get_by_role("button", name="Skicka felanmälan").click()
            expect(page.locator(".case-number")).to_have_text("Ditt ärendenummer är 1.")
            page.screenshot(path=shots / "3-confirmation.png", full_page=True)

            case = daemon.case(1)
            assert case["channel"] == "web"
            assert case["messages"][0]["attachments"][0]["content_type"] == "image/jpeg"

            page.goto(follow_link(sink, "eva@kund.example"))
            expect(page.locator("h1")).to_have_text("Ärende 1")
            expect(page.locator(".message.in .text").first).to_contain_text("Kranen i badrummet")
            page.screenshot(path=shots / "4-case.png", full_page=True)
            page.get_by_label("Meddelande", exact=True).fill("Nu droppar det ännu mer.")
            page.get_by_role("button", name="Skicka", exact=True).click()
            expect(page.locator(".notice")).to_contain_text("Ditt meddelande har lagts till")
            expect(page.locator(".message.in .text").last).to_have_text("Nu droppar det ännu mer.")
            page.screenshot(path=shots / "5-reply.png", full_page=True)
        finally:
            browser.close()
    replies = [m for m in daemon.case(1)["messages"] if m["direction"] == "in"]
    assert replies[-1]["text"] == "Nu droppar det ännu mer."
    assert replies[-1]["channel"] == "web"
