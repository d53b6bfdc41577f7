"""Quizzes and surveys over HTTP with the demo data and the repository's content: the
partner routes (service token) and the admin reports (admin key)."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_date
from app.core.db import write_transaction
from app.demo_fixtures import BUDI, SARAH
from app.models import Partner, QuestionnaireAttempt
from app.services import questionnaires as engine

BY_WA = "/api/v1/partners/by-wa"
MODULE = "kopi-susu-101"  # 5 questions, 200 points, pass mark 80 %, 3 attempts a day
SURVEY = "kepuasan-mitra-2026"


@pytest.fixture(autouse=True)
def demo(seeded: datetime) -> None:
    """Every test here runs on the demo seed (partners, tiers and the content files)."""


def _attempt(session: Session, attempt_id: int) -> QuestionnaireAttempt:
    session.commit()  # a fresh snapshot: the API wrote it in another session
    session.expire_all()
    return session.scalars(
        select(QuestionnaireAttempt).where(QuestionnaireAttempt.id == attempt_id)
    ).one()


def right(session: Session, attempt_id: int, question_no: int) -> str:
    found = engine.correct_choice(_attempt(session, attempt_id).questions[question_no - 1])
    assert found is not None
    return found[0]


def wrong(session: Session, attempt_id: int, question_no: int) -> str:
    correct = right(session, attempt_id, question_no)
    return next(label for label in "ABCD" if label != correct)


def balance(client: TestClient, auth: dict, wa_id: str) -> int:
    return client.get(f"{BY_WA}/{wa_id}/balance", headers=auth).json()["available_points"]


def start(client: TestClient, auth: dict, wa_id: str = BUDI.wa_id, code: str = MODULE):
    return client.post(f"{BY_WA}/{wa_id}/quizzes/{code}/start", headers=auth)


def answer(
    client: TestClient, auth: dict, attempt_id: int, question_no: int, value: str,
    wa_id: str = BUDI.wa_id, code: str = MODULE, kind: str = "quizzes",
):  # fmt: skip
    return client.post(
        f"{BY_WA}/{wa_id}/{kind}/{code}/answer",
        json={"attempt_id": attempt_id, "question_no": question_no, "answer": value},
        headers=auth,
    )


def take(
    client: TestClient, auth: dict, session: Session, score: int, wa_id: str = BUDI.wa_id
) -> dict[str, Any]:
    """Take MODULE getting the first ``score`` questions right; the last answer's body."""
    attempt_id = start(client, auth, wa_id).json()["attempt_id"]
    last: dict[str, Any] = {}
    for n in range(1, 6):
        pick = right if n <= score else wrong
        last = answer(client, auth, attempt_id, n, pick(session, attempt_id, n), wa_id).json()
    return last


def test_the_list_depends_on_the_partner(client: TestClient, auth: dict) -> None:
    budi = client.get(f"{BY_WA}/{BUDI.wa_id}/quizzes", headers=auth)
    assert budi.status_code == 200
    items = {item["code"]: item for item in budi.json()["items"]}
    assert {MODULE, "display-toko-retail"} <= set(items)  # Budi is a retailer
    assert items[MODULE] == {
        "code": MODULE,
        "title": {"id": "Kenali kopi siap minum kita", "en": "Know our ready-to-drink coffee"},
        "points": 200,
        "pass_mark_percent": 80,
        "questions": 5,
        "attempts_per_day": 3,
        "attempts_left_today": 3,
        "passed": False,
        "passed_on": None,
        "in_progress": None,
        "available_until": None,
    }
    sarah = client.get(f"{BY_WA}/{SARAH.wa_id}/quizzes", headers=auth).json()["items"]
    assert MODULE in {item["code"] for item in sarah}
    assert "display-toko-retail" not in {item["code"] for item in sarah}  # a wholesaler
    refused = start(client, auth, SARAH.wa_id, "display-toko-retail")
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_offered"


def test_start_shows_the_lesson_and_the_first_question_without_the_answer(
    client: TestClient, auth: dict
) -> None:
    started = start(client, auth)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["resumed"] is False and body["kind"] == "quiz" and body["code"] == MODULE
    assert body["intro"]["id"].startswith("☕ *Kopi Susu Gula Aren*")
    assert (body["points"], body["pass_mark_percent"], body["attempts_left_today"]) == (200, 80, 2)
    question = body["question"]
    assert (question["question_no"], question["questions"], question["kind"]) == (1, 5, "choice")
    assert [c["label"] for c in question["choices"]] == list("ABCD"[: len(question["choices"])])
    assert "correct" not in started.text  # which one is right comes with the answer
    again = start(client, auth)
    assert again.status_code == 200
    assert again.json()["resumed"] is True and again.json()["attempt_id"] == body["attempt_id"]
    assert again.json()["question"] == question


def test_answers_get_feedback_then_the_score_and_points_once(
    client: TestClient, auth: dict, session: Session
) -> None:
    before = balance(client, auth, BUDI.wa_id)
    attempt_id = start(client, auth).json()["attempt_id"]
    miss = answer(client, auth, attempt_id, 1, wrong(session, attempt_id, 1))
    assert miss.status_code == 200, miss.text
    body = miss.json()
    assert body["correct"] is False and body["replayed"] is False
    assert body["correct_choice"]["label"] == right(session, attempt_id, 1)
    assert body["explanation"]["en"] and body["next_question"]["question_no"] == 2
    assert body["result"] is None
    for n in range(2, 6):
        last = answer(client, auth, attempt_id, n, right(session, attempt_id, n)).json()
    assert last["next_question"] is None
    assert last["result"] == {
        "correct": 4,
        "questions": 5,
        "score_percent": 80,
        "pass_mark_percent": 80,
        "passed": True,
        "points_awarded": 200,
        "first_pass": True,
        "already_rewarded": False,
        "attempts_left_today": 2,
    }
    assert balance(client, auth, BUDI.wa_id) == before + 200
    history = client.get(f"{BY_WA}/{BUDI.wa_id}/history?limit=1", headers=auth).json()
    assert history["items"][0]["reason"] == "quiz"
    assert history["items"][0]["reference_id"] == MODULE

    again = take(client, auth, session, score=5)
    assert again["result"]["points_awarded"] == 0 and again["result"]["already_rewarded"]
    assert balance(client, auth, BUDI.wa_id) == before + 200

    record = client.get(f"{BY_WA}/{BUDI.wa_id}/quizzes/record", headers=auth).json()
    [done] = record["items"]
    assert (done["code"], done["score_percent"], done["points_awarded"]) == (MODULE, 80, 200)
    assert done["attempts"] == 2 and done["passed_on"]
    listed = client.get(f"{BY_WA}/{BUDI.wa_id}/quizzes", headers=auth).json()["items"]
    module = next(item for item in listed if item["code"] == MODULE)
    assert module["passed"] is True and module["passed_on"] == done["passed_on"]
    assert module["attempts_left_today"] == 1


def test_a_fail_then_the_daily_limit(client: TestClient, auth: dict, session: Session) -> None:
    for _ in range(3):
        failed = take(client, auth, session, score=2)["result"]
        assert (failed["passed"], failed["score_percent"], failed["points_awarded"]) == (
            False,
            40,
            0,
        )
    assert failed["attempts_left_today"] == 0
    refused = start(client, auth)
    assert refused.status_code == 409
    body = refused.json()
    assert (body["code"], body["attempts_per_day"]) == ("attempt_limit", 3)
    assert body["retry_on"] == (wib_date(utcnow()) + timedelta(days=1)).isoformat()


def test_wrong_answers_to_the_api_are_refused_with_a_code(
    client: TestClient, auth: dict, session: Session
) -> None:
    attempt_id = start(client, auth).json()["attempt_id"]
    ahead = answer(client, auth, attempt_id, 3, "A")
    assert ahead.status_code == 409
    assert ahead.json() == {
        "detail": "question 1 is waiting",
        "code": "out_of_order",
        "question_no": 1,
    }
    bad = answer(client, auth, attempt_id, 1, "yang kedua")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_answer"
    assert answer(client, auth, 999_999, 1, "A").json()["code"] == "attempt_not_found"
    assert answer(client, auth, attempt_id, 1, "A", code="display-toko-retail").status_code == 404
    unknown = start(client, auth, code="no-such-module")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert start(client, auth, code="Not A Code").status_code == 422
    malformed = client.post(
        f"{BY_WA}/{BUDI.wa_id}/quizzes/{MODULE}/answer",
        json={"attempt_id": attempt_id, "question_no": 1, "answer": "A", "extra": 1},
        headers=auth,
    )
    assert malformed.status_code == 422
    twice = [answer(client, auth, attempt_id, 1, right(session, attempt_id, 1)) for _ in range(2)]
    assert [t.json()["replayed"] for t in twice] == [False, True]


def test_a_suspended_partner_reads_but_may_not_take_a_quiz(
    client: TestClient, auth: dict, session: Session
) -> None:
    with write_transaction(session):
        session.scalars(
            select(Partner).where(Partner.wa_id == BUDI.wa_id)
        ).one().status = "suspended"
    assert client.get(f"{BY_WA}/{BUDI.wa_id}/quizzes", headers=auth).status_code == 200
    refused = start(client, auth)
    assert refused.status_code == 403 and refused.json() == {"detail": "partner suspended"}


def test_a_survey_is_answered_once_and_thanked_once(
    client: TestClient, auth: dict, admin_auth: dict, session: Session
) -> None:
    before = balance(client, auth, SARAH.wa_id)
    [offer] = client.get(f"{BY_WA}/{SARAH.wa_id}/surveys", headers=auth).json()["items"]
    assert (offer["code"], offer["points"], offer["completed"]) == (SURVEY, 50, False)
    url = f"{BY_WA}/{SARAH.wa_id}/surveys/{SURVEY}/start"
    started = client.post(url, headers=auth).json()
    assert started["question"]["kind"] == "scale"
    assert started["question"]["scale"] == {
        "min": 1,
        "max": 5,
        "low": {"id": "Sangat tidak puas", "en": "Very unhappy"},
        "high": {"id": "Sangat puas", "en": "Very happy"},
    }
    attempt_id = started["attempt_id"]
    values = ["4", "B", "A", "More rewards for small shops"]
    for n, value in enumerate(values, start=1):
        reply = answer(client, auth, attempt_id, n, value, SARAH.wa_id, SURVEY, "surveys")
        assert reply.status_code == 200, reply.text
        assert reply.json()["correct"] is None and reply.json()["correct_choice"] is None
    result = reply.json()["result"]
    assert (result["points_awarded"], result["passed"], result["correct"]) == (50, None, None)
    assert balance(client, auth, SARAH.wa_id) == before + 50
    again = client.post(url, headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "already_answered"
    [offer] = client.get(f"{BY_WA}/{SARAH.wa_id}/surveys", headers=auth).json()["items"]
    assert offer["completed"] is True and offer["completed_on"]

    summary = client.get(f"/api/v1/admin/surveys/{SURVEY}/summary", headers=admin_auth).json()
    assert (summary["attempts"], summary["completed"], summary["points_awarded"]) == (1, 1, 50)
    scale, reward, often, text = summary["questions"]
    assert scale["scale"] == {"counts": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}, "average": 4.0}
    assert [c["picked"] for c in reward["choices"]] == [0, 1, 0, 0]
    assert [c["picked"] for c in often["choices"]] == [1, 0, 0]
    assert text["latest_texts"] == ["More rewards for small shops"]
    responses = client.get(f"/api/v1/admin/surveys/{SURVEY}/responses", headers=admin_auth).json()
    [response] = responses["items"]
    assert response["partner"]["wa_id"] == SARAH.wa_id
    assert [a["text_value"] for a in response["answers"]] == [None, None, None, values[3]]


def test_admin_reads_attempts_with_timing_and_a_per_question_summary(
    client: TestClient, auth: dict, admin_auth: dict, session: Session
) -> None:
    take(client, auth, session, score=5)  # answered at once: faster than anyone reads
    attempts = client.get(f"/api/v1/admin/quizzes/{MODULE}/attempts", headers=admin_auth)
    assert attempts.status_code == 200
    [item] = attempts.json()["items"]
    assert item["partner"]["wa_id"] == BUDI.wa_id and item["status"] == "completed"
    assert (item["correct"], item["score_percent"], item["passed"]) == (5, 100, True)
    assert item["points_awarded"] == 200 and item["too_fast_answers"] == 5
    assert [a["question_no"] for a in item["answers"]] == [1, 2, 3, 4, 5]
    assert all(a["too_fast"] and a["seconds"] < 1 for a in item["answers"])
    assert {f["code"] for f in item["flags"]} == {"too_fast"}
    flagged = client.get(
        f"/api/v1/admin/quizzes/{MODULE}/attempts?flagged=false", headers=admin_auth
    )
    assert flagged.json()["total"] == 0

    summary = client.get(f"/api/v1/admin/quizzes/{MODULE}/summary", headers=admin_auth).json()
    assert (summary["attempts"], summary["completed"], summary["passed"]) == (1, 1, 1)
    assert (summary["pass_rate"], summary["flagged_attempts"]) == (1.0, 1)
    assert len(summary["questions"]) == 5
    for question in summary["questions"]:
        assert (question["answers"], question["correct"], question["correct_share"]) == (1, 1, 1.0)
        # choices in the file's order, the right one picked once
        assert [c["index"] for c in question["choices"]] == list(range(len(question["choices"])))
        assert [c["picked"] for c in question["choices"] if c["correct"]] == [1]
    missing = client.get("/api/v1/admin/quizzes/no-such-module/summary", headers=admin_auth)
    assert missing.status_code == 404
