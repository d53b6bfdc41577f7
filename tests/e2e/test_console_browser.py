"""The support console in a real browser (Debian's chromium, driven by Playwright) against
the whole running stack: a partner asks for a person on WhatsApp (the sandbox), an agent
takes the chat in the console, answers, and hands it back to the bot; a second agent
cannot take the same chat; a visitor who is not signed in only ever sees the login page.

Screenshots are kept in var/test-artifacts/console/ (git-ignored) for people to look at.
The module has a stack of its own, where nobody's wait for an agent times out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from tests.e2e.conftest import (
    Stack,
    inbound,
    message_text,
    next_message,
    replies_to,
    wait_for_text,
)
from tests.support.processes import (
    DEMO_ADMIN_EMAIL,
    DEMO_ADMIN_PASSWORD,
    DEMO_AGENT_EMAIL,
    DEMO_AGENT_PASSWORD,
    ROOT,
    running,
    start_stack,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "test-artifacts" / "console"
# Seeded retailers no other end-to-end test writes to (app/initial_data.py numbers them).
PARTNER = "6281300000131"
PHONE_PARTNER = "6281300000132"
# The bot's first words after an agent hands the chat back (utter_handback).
BOT_IS_BACK = {"id": "Mitra (bot) kembali", "en": "Mitra the bot is back"}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TURN = 60_000  # ms: a bot turn through the whole stack, on a shared CPU
POLL = 15_000  # ms: the console polls every 2-3 s
PLAYWRIGHT_EXPECT_TIMEOUT = 5_000  # ms: Playwright's default, for the other test modules


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this module's own (it replaces the shared one here): the shared stack
    gives up waiting for an agent after 20 s (tests/e2e/conftest.py), and a browser that
    signs in, reads the queue and the transcript may take longer than that to claim on a
    busy machine; then the no-agent notice would resume the bot under the test."""
    stack = start_stack(
        tmp_path_factory.mktemp("console-e2e"), gateway=True,  # as make run
        backend_env={"HANDOFF_TIMEOUT_SECONDS": "3600"},
    )
    with running(*stack.processes):
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "install Debian's chromium (.ci/run does: apt-get install chromium)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Assertions wait for the console's next polls and for calls that go through Rasa.
    expect.set_options(timeout=POLL)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield browser
            browser.close()
    finally:
        expect.set_options(timeout=PLAYWRIGHT_EXPECT_TIMEOUT)


@pytest.fixture()
def new_context(browser: Browser) -> Iterator[Any]:
    """Contexts are separate browsers as far as cookies go: one agent each."""
    contexts: list[BrowserContext] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(POLL)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None,
        )
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    yield make
    for context in contexts:
        context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, stack: Stack, email: str, password: str, start: str = "/console") -> None:
    page.goto(stack.backend.url + start)
    expect(page).to_have_url(_login_url(stack))
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("logout")).to_be_visible()
    expect(page).not_to_have_url(_login_url(stack))
    if page.url != stack.backend.url + start:
        page.goto(stack.backend.url + start)


def _login_url(stack: Stack) -> re.Pattern[str]:
    return re.compile(re.escape(stack.backend.url) + r"/console/login(\?.*)?$")


def queue_item(page: Page, wa_id: str) -> Any:
    return page.locator(f'[data-testid="queue-item"][data-wa-id="{wa_id}"]')


def ask_for_a_person(stack: Stack, wa_id: str) -> dict[str, Any]:
    """The partner writes "mau bicara sama CS" on WhatsApp; the bot answers that a person
    will reply (the conversation is paused) and the backend has a waiting hand-off."""
    return next_message(stack.sandbox, wa_id, timeout=TURN / 1000, text="mau bicara sama CS")


def console_api(page: Page, stack: Stack, method: str, path: str) -> Any:
    """Call the console's JSON API as the page's signed-in agent (cookie + CSRF token)."""
    me = page.request.get(f"{stack.backend.url}/console/api/me")
    assert me.ok, me.status
    return page.request.fetch(
        f"{stack.backend.url}/console/api{path}", method=method,
        headers={"X-CSRF-Token": me.json()["csrf_token"]},
    )


def hand_back(page: Page, stack: Stack, wa_id: str) -> str:
    """Click "Hand back to bot", wait until the hand-off is over and the bot has greeted
    the partner again (``utter_handback``, in their language); returns that greeting."""
    language = page.get_by_test_id("partner-language").text_content() or ""
    greeting = BOT_IS_BACK["en" if "(en)" in language else "id"]
    before = len(replies_to(stack.sandbox, wa_id))
    page.get_by_test_id("hand-back").click()
    try:
        expect(page.get_by_test_id("handoff-status")).to_have_text("Handed back", timeout=TURN)
    except AssertionError as error:
        said = page.get_by_test_id("chat-error").text_content()
        raise AssertionError(f"the hand-back failed; the console says {said!r}") from error
    # The bot greets the partner again (fails, naming the greeting, if it does not).
    wait_for_text(stack.sandbox, wa_id, greeting, after=before, timeout=TURN / 1000)
    return greeting


def test_visitor_who_is_not_signed_in_sees_only_the_login_page(stack: Stack, new_context):
    page = new_context()
    for path in ("/console", "/console/chats/1"):
        page.goto(stack.backend.url + path)
        expect(page).to_have_url(_login_url(stack))
        expect(page.get_by_test_id("login-email")).to_be_visible()
    assert page.request.get(f"{stack.backend.url}/console/api/handoffs").status == 401
    assert requests.get(f"{stack.backend.url}/console/api/handoffs", timeout=5).status_code == 401
    assert not page.js_errors


def test_login_page_says_why_signing_in_failed(stack: Stack, new_context):
    page = new_context(PHONE)
    page.goto(f"{stack.backend.url}/console/login")
    page.get_by_test_id("login-email").fill(DEMO_AGENT_EMAIL)
    page.get_by_test_id("login-password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong email or password")
    expect(page).to_have_url(_login_url(stack))
    shot(page, "login-wrong-password")

    # A locked account (423 after five failures) is told so. The lockout itself is the
    # backend's (its own tests); locking the demo agent here would stop the other tests.
    page.route("**/console/api/login", lambda route: route.fulfill(
        status=423, json={"detail": "Locked for 15 minutes."},
    ))
    page.get_by_test_id("login-password").fill("still-not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("locked")
    assert not page.js_errors


def test_agent_takes_over_a_chat_answers_and_hands_it_back(stack: Stack, new_context):
    partner = stack.backend_get(f"/partners/by-wa/{PARTNER}")
    ask_for_a_person(stack, PARTNER)

    # The agent signs in and finds the partner waiting in the queue.
    agent = new_context()
    sign_in(agent, stack, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD)
    expect(agent).to_have_url(f"{stack.backend.url}/console")
    row = queue_item(agent, PARTNER)
    expect(row).to_be_visible(timeout=TURN)
    expect(row).to_contain_text(partner["name"])
    expect(row).to_contain_text("Waiting")
    expect(row).to_contain_text("Unclaimed")
    shot(agent, "queue")

    handoff_id = row.get_attribute("data-handoff-id")
    chat_url = f"{stack.backend.url}/console/chats/{handoff_id}"
    row.click()
    expect(agent).to_have_url(chat_url)
    transcript = agent.get_by_test_id("transcript")
    expect(transcript).to_contain_text("mau bicara sama CS")
    expect(agent.get_by_test_id("partner-name")).to_have_text(partner["name"])
    expect(agent.get_by_test_id("reply-box")).to_be_disabled()
    expect(agent.get_by_test_id("reply-send")).to_be_disabled()

    # While the bot is paused the partner writes again: it shows up without a reload.
    still_there = f"halo, masih ada orang? {uuid.uuid4().hex[:6]}"
    inbound(stack.sandbox, **{"from": PARTNER, "text": still_there})
    expect(transcript).to_contain_text(still_there, timeout=TURN)
    shot(agent, "chat-waiting")

    # The agent claims the chat; the reply box opens.
    agent.get_by_test_id("claim-chat").click()
    expect(agent.get_by_test_id("reply-box")).to_be_enabled()
    expect(agent.get_by_test_id("handoff-status")).to_have_text("Active")

    # A canned reply comes in the partner's language.
    canned = console_api(agent, stack, "GET", "/canned-replies").json()["items"][0]
    language = agent.request.get(
        f"{stack.backend.url}/console/api/handoffs/{handoff_id}"
    ).json()["partner"]["language"]
    agent.get_by_test_id("canned-replies").select_option(label=canned["title"])
    expect(agent.get_by_test_id("reply-box")).to_have_value(canned["text"][language])

    # The agent's own reply goes to the partner on WhatsApp, in the agent's name.
    reply = f"Halo, saya dari tim Mitra. Poin Anda aman. [{uuid.uuid4().hex[:6]}]"
    agent.get_by_test_id("reply-box").fill(reply)
    agent.get_by_test_id("reply-send").click()
    expect(transcript.locator('[data-from="agent"]', has_text=reply)).to_be_visible()
    expect(agent.get_by_test_id("reply-box")).to_have_value("")
    sent = wait_for_text(stack.sandbox, PARTNER, reply)
    assert message_text(sent) == reply, message_text(sent)
    shot(agent, "chat-active")

    # A second agent (the demo admin) sees who has the chat and cannot take it.
    second = new_context()
    sign_in(
        second, stack, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, start=f"/console/chats/{handoff_id}"
    )
    expect(second).to_have_url(chat_url)
    expect(second.get_by_test_id("transcript")).to_contain_text(reply)
    second.get_by_test_id("claim-chat").click()
    expect(second.get_by_test_id("chat-error")).to_be_visible()
    expect(second.get_by_test_id("reply-box")).to_be_disabled()
    shot(second, "chat-claimed-by-another")
    assert console_api(second, stack, "POST", f"/handoffs/{handoff_id}/claim").status == 409

    # The agent hands the chat back: the bot speaks first, and the queue no longer has it.
    greeting = hand_back(agent, stack, PARTNER)
    expect(agent.get_by_test_id("reply-box")).to_be_disabled()
    expect(transcript.locator('[data-from="bot"]').last).to_contain_text(greeting)
    expect(transcript.locator('[data-from="system"]').last).to_be_visible()
    shot(agent, "chat-handed-back")

    agent.get_by_test_id("back-to-queue").click()
    expect(agent).to_have_url(f"{stack.backend.url}/console")
    expect(agent.get_by_test_id("queue-summary")).not_to_have_text("Loading…")
    expect(queue_item(agent, PARTNER)).to_have_count(0)

    # Logging out ends the session: the console and its API want a login again.
    agent.get_by_test_id("logout").click()
    expect(agent).to_have_url(_login_url(stack))
    agent.goto(f"{stack.backend.url}/console")
    expect(agent).to_have_url(_login_url(stack))
    assert agent.request.get(f"{stack.backend.url}/console/api/handoffs").status == 401
    assert not agent.js_errors and not second.js_errors


def test_chat_page_fits_a_phone(stack: Stack, new_context):
    ask_for_a_person(stack, PHONE_PARTNER)
    page = new_context(PHONE)
    sign_in(page, stack, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD)
    row = queue_item(page, PHONE_PARTNER)
    expect(row).to_be_visible(timeout=TURN)
    shot(page, "phone-queue")
    row.click()
    expect(page.get_by_test_id("transcript")).to_contain_text("mau bicara sama CS")
    page.get_by_test_id("claim-chat").click()
    reply_box, send = page.get_by_test_id("reply-box"), page.get_by_test_id("reply-send")
    expect(reply_box).to_be_enabled()
    for control in (reply_box, send):  # the composer stays on screen
        expect(control).to_be_visible()
        expect(control).to_be_in_viewport()
    expect(page.get_by_test_id("hand-back")).to_be_visible()
    expect(page.get_by_test_id("logout")).to_be_visible()
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"], f"the page scrolls sideways ({page_width}px)"
    page.screenshot(path=str(ARTIFACTS / "phone-chat.png"))

    # Past WhatsApp's 24-hour window (the partner's last message is older) the agent is
    # warned. The backend decides; here its answers are made to say so.
    handoff_id = page.url.rsplit("/", 1)[1]
    day_before = (datetime.now(timezone.utc) - timedelta(hours=30)).isoformat()

    def window_closed(route: Route) -> None:
        body = route.fetch().json()
        if route.request.url.endswith("/transcript"):
            for message in body["messages"]:
                message["timestamp"] = day_before
        else:
            body["window_open"] = False
        route.fulfill(json=body)

    page.route(f"**/console/api/handoffs/{handoff_id}", window_closed)
    page.route(f"**/console/api/handoffs/{handoff_id}/transcript", window_closed)
    expect(page.get_by_test_id("window-closed")).to_be_hidden()
    page.reload()
    expect(page.get_by_test_id("window-closed")).to_be_visible()
    expect(page.get_by_test_id("window-closed")).to_contain_text("24-hour window")
    page.unroute_all(behavior="wait")  # lets a request in flight finish first

    # Hand it back so the partner is not left waiting (the bot's timer would answer).
    hand_back(page, stack, PHONE_PARTNER)
    assert not page.js_errors
