"""A training quiz through the whole stack, with Rasa restarted in the middle and its
conversation store gone: the partner types "kuis" again and carries on at the question
where they were, because the place is kept in the backend, not in the chat's slots."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Stack, inbound, message_text, wait_for_messages
from tests.support.processes import (
    SERVICE_TOKEN,
    TURN_NICENESS,
    running,
    start_rasa,
    start_stack,
)

RETAILER = "6281300000138"  # a seeded retailer no other end-to-end test writes to
MODULE = "kopi-susu-101"


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quizzes-e2e")


@pytest.fixture(scope="module")
def stack(log_dir: Path) -> Iterator[Stack]:
    stack = start_stack(log_dir, gateway=True)
    with running(*stack.processes):
        yield stack
    stack.rasa.stop()  # the restarted one, if the test replaced it


def tappable(payload: dict[str, Any]) -> list[dict[str, str]]:
    """The reply buttons or list rows of an interactive message (id, title)."""
    action = payload["interactive"]["action"]
    if "buttons" in action:
        return [button["reply"] for button in action["buttons"]]
    return [row for section in action["sections"] for row in section["rows"]]


def tap(stack: Stack, payload: dict[str, Any], row_id: str) -> None:
    [choice] = [c for c in tappable(payload) if c["id"] == row_id]
    kind = "button_reply" if "buttons" in payload["interactive"]["action"] else "list_reply"
    reply = {"id": choice["id"], "title": choice["title"]}
    inbound(stack.sandbox, **{"from": RETAILER, kind: reply})


def right_letter(log_dir: Path, question_no: int) -> str:
    with sqlite3.connect(log_dir / "mitra.db") as db:
        (questions,) = db.execute(
            "SELECT a.questions FROM questionnaire_attempt a JOIN partner p "
            "ON p.id = a.partner_id WHERE p.wa_id = ? ORDER BY a.id DESC LIMIT 1", (RETAILER,)
        ).fetchone()
    choices = json.loads(questions)[question_no - 1]["choices"]
    return "ABCD"[next(n for n, c in enumerate(choices) if c["correct"])]


def restart_rasa_without_its_conversations(stack: Stack, log_dir: Path) -> None:
    stack.rasa.stop()
    (log_dir / "tracker.db").unlink()  # every conversation's slots and form are gone
    port = int(stack.rasa.url.rsplit(":", 1)[1])
    env = {"WHATSAPP_INGRESS": "gateway", "WHATSAPP_QUEUE_PATH": str(log_dir / "rasa-inbound.db")}
    stack.rasa = start_rasa(
        log_dir, log_dir / "endpoints.yml", graph_url=stack.sandbox.url, name="rasa-2",
        extra_env=env, port=port, nice=TURN_NICENESS,
    )


def test_a_quiz_resumes_at_the_same_question_after_rasa_restarts(stack: Stack, log_dir: Path):
    requests.put(
        f"{stack.backend.url}/api/v1/partners/by-wa/{RETAILER}/language",
        json={"language": "id"}, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=5,
    ).raise_for_status()
    before = stack.backend_get(f"/partners/by-wa/{RETAILER}/balance")["available_points"]
    pick = '/start_quiz{"quiz_code": "kopi-susu-101"}'

    inbound(stack.sandbox, **{"from": RETAILER, "text": "kuis"})
    listed = wait_for_messages(stack.sandbox, RETAILER, 1, timeout=60)[-1]
    assert "Kenali kopi siap minum kita" in message_text(listed)
    assert listed["interactive"]["action"]["button"] == "Pilih modul"  # 4 rows: a list
    tap(stack, listed, pick)
    lesson, first = wait_for_messages(stack.sandbox, RETAILER, 3, timeout=60)[1:3]
    assert "Kopi Susu Gula Aren" in message_text(lesson)
    assert "*Soal 1/5*" in message_text(first)
    inbound(stack.sandbox, **{"from": RETAILER, "text": right_letter(log_dir, 1).lower()})
    feedback, second = wait_for_messages(stack.sandbox, RETAILER, 5, timeout=60)[3:5]
    assert message_text(feedback).startswith("✅ Benar!")
    assert "*Soal 2/5*" in message_text(second)

    restart_rasa_without_its_conversations(stack, log_dir)

    inbound(stack.sandbox, **{"from": RETAILER, "text": "kuis"})
    listed = wait_for_messages(stack.sandbox, RETAILER, 6, timeout=90)[-1]
    assert "Lanjutkan dari soal 2 dari 5" in message_text(listed)
    tap(stack, listed, pick)
    resumed, again = wait_for_messages(stack.sandbox, RETAILER, 8, timeout=60)[6:8]
    assert "soal 2 dari 5" in message_text(resumed)
    assert message_text(again) == message_text(second)  # the same question, same order

    count = 8
    for number in range(2, 6):
        answer = f"jawaban {right_letter(log_dir, number)}"
        inbound(stack.sandbox, **{"from": RETAILER, "text": answer})
        count += 2
        messages = wait_for_messages(stack.sandbox, RETAILER, count, timeout=60)
    assert "*+200 poin*" in message_text(messages[-1]), message_text(messages[-1])
    after = stack.backend_get(f"/partners/by-wa/{RETAILER}/balance")["available_points"]
    assert after == before + 200
