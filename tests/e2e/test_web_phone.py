"""The sandbox's web phone in a real browser (Debian's chromium, driven by Playwright):
a newcomer picks a partner, chats, and taps a list row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from actions.formatting import format_points
from tests.e2e.conftest import Stack

CHROMIUM = Path("/usr/bin/chromium")
USER_ID_PARTNER = "ID.4f9c2a7e1b83"  # seeded partner whose WhatsApp id is a user id


@pytest.fixture()
def page() -> Iterator[Page]:
    assert CHROMIUM.exists(), "install Debian's chromium (.ci/run does: apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 420, "height": 860})
        yield page
        browser.close()


def send(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.click("#send")


def test_chat_and_tap_a_list_row_in_the_web_phone(stack: Stack, page: Page):
    balance = stack.backend_get(f"/partners/by-wa/{USER_ID_PARTNER}/balance")
    page.goto(stack.sandbox.url)
    expect(page.locator("#partner option").first).to_contain_text("Budi")

    # The sample-invoice button (sends sandbox/static/sample-invoice.jpg as a photo).
    expect(page.get_by_test_id("send-sample-invoice")).to_be_visible()
    assert page.request.get(f"{stack.sandbox.url}/static/sample-invoice.jpg").ok

    page.fill("#customId", USER_ID_PARTNER)
    page.click("#useCustom")
    send(page, "cek poin dong")
    points = format_points(balance["available_points"], "id")
    expect(page.locator(".row.in .bubble").last).to_contain_text(f"{points} poin", timeout=30_000)

    send(page, "menu")
    menu_button = page.locator(".row.in .actions button", has_text="☰")
    expect(menu_button.last).to_be_visible(timeout=30_000)
    menu_button.last.click()
    page.locator("#sheet button.opt", has_text="Tier saya").click()
    expect(page.locator(".row.in .bubble").last).to_contain_text("Tier Anda", timeout=30_000)
