"""Events queue their notices in their own transaction (issue 21): claims, points, tiers,
redemptions and new quiz modules; nothing when the event does not happen."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.db import write_transaction
from app.models import Notification, Partner
from app.models.claim import ClaimStatus
from app.models.questionnaire import QuestionnaireKind
from app.services import claim_images, claims, ledger, notifications, questionnaires, redemptions
from app.services.errors import InvalidRedemption, InvalidTransition, RedemptionRefused
from tests.claims_utils import erp_invoice, load_catalogue, partner_with_code, photo, submit
from tests.questionnaire_utils import load, quiz_yaml, right_label, write_content
from tests.rewards_utils import funded_partner, give_points, load_rewards, make_reward, redeem
from tests.utils import new_partner


def notices(session: Session, partner: Partner | None = None) -> list[tuple[str, dict, str]]:
    """(kind, params, group_key) of the queued notices, oldest first."""
    session.commit()
    query = select(Notification).order_by(Notification.id)
    if partner is not None:
        query = query.where(Notification.partner_id == partner.id)
    return [(n.kind, n.params, n.group_key or "") for n in session.scalars(query)]


# --- claims ------------------------------------------------------------------------------


@pytest.fixture
def catalogue(session: Session) -> None:
    load_catalogue(session)


@pytest.mark.usefixtures("catalogue")
def test_a_claim_answered_while_the_partner_waits_queues_nothing(session: Session) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/N/0001", partner.erp_customer_code, {"KSGA-24": 10})
    claim = submit(session, partner, "INV/N/0001", {"KSGA-24": 10}).claim
    assert claim.status == ClaimStatus.APPROVED
    pending = submit(session, partner, "INV/N/0002", {"KSGA-24": 1}).claim
    assert pending.status == ClaimStatus.PENDING_REVIEW
    assert notices(session) == []


@pytest.mark.usefixtures("catalogue")
def test_a_reviewers_approval_queues_approved_credited_and_tier_up_as_one_group(
    session: Session,
) -> None:
    partner = partner_with_code(session)
    image = claim_images.store_image(session, photo(7), "image/png")
    claim = submit(session, partner, None, kind="display", image_id=image.id).claim
    give_points(session, partner, 4950, reason="campaign_bonus")  # 50 short of gold
    approved = claims.decide(session, claim.claim_no, "approve", "nice shelf", "admin")
    number = approved.claim_no
    balance = ledger.balance(session, partner.id).available_points
    assert notices(session, partner) == [
        ("claim_approved", {"claim_no": number, "points": 100}, number),
        (
            "points_credited",
            {
                "points": 100,
                "balance": balance,
                "source_id": f"Klaim {number}",
                "source_en": f"Claim {number}",
            },
            number,
        ),
        ("tier_up", {"tier": "Gold"}, number),
    ]


@pytest.mark.usefixtures("catalogue")
def test_a_reviewers_rejection_queues_the_reason(session: Session) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/N/0010", {"KSGA-24": 1}).claim
    claims.decide(session, claim.claim_no, "reject", "nota tidak terbaca", "admin")
    [(kind, params, group)] = notices(session, partner)
    assert (kind, group) == ("claim_rejected", claim.claim_no)
    assert params == {
        "claim_no": claim.claim_no,
        "reason_id": "Ditolak oleh tim kami: nota tidak terbaca",
        "reason_en": "Rejected by our team: nota tidak terbaca",
    }


@pytest.mark.usefixtures("catalogue")
def test_erp_lines_that_approve_a_waiting_claim_queue_its_notices(session: Session) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/N/0020", {"SCK-12": 6}).claim
    assert notices(session) == []
    erp_invoice(session, "INV/N/0020", partner.erp_customer_code, {"SCK-12": 6})
    kinds = [kind for kind, _, group in notices(session, partner) if group == claim.claim_no]
    assert kinds == ["claim_approved", "points_credited"]


@pytest.mark.usefixtures("catalogue")
def test_a_refused_decision_queues_nothing(session: Session) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/N/0030", {"KSGA-24": 1}).claim
    claims.decide(session, claim.claim_no, "reject", "no", "admin")
    before = notices(session)
    with pytest.raises(claims.ClaimAlreadyDecided):
        claims.decide(session, claim.claim_no, "approve", "", "admin")
    assert notices(session) == before


# --- points ------------------------------------------------------------------------------


def test_an_admin_adjustment_that_adds_points_is_told_once(session: Session) -> None:
    partner = new_partner(session)
    for _ in range(2):  # the replay of the same key queues nothing more
        ledger.adjust(
            session, partner_id=partner.id, points=75, note="lost invoice", idempotency_key="adj-1",
            actor="admin",
        )  # fmt: skip
    ledger.adjust(
        session, partner_id=partner.id, points=-5, note="typo", idempotency_key="adj-2",
        actor="admin",
    )  # fmt: skip
    assert notices(session, partner) == [
        (
            "points_credited",
            {
                "points": 75,
                "balance": 75,
                "source_id": ledger.ADJUSTMENT_SOURCE["id"],
                "source_en": ledger.ADJUSTMENT_SOURCE["en"],
            },
            "",
        )
    ]


def test_a_passed_quiz_is_not_told_again_as_a_notice(session: Session, tmp_path: Path) -> None:
    """The chat's answer to the last question says the points already."""

    load(session, write_content(tmp_path / "c", quizzes={"q.yml": quiz_yaml("notice-quiz")}))
    partner = new_partner(session)
    started = questionnaires.start(session, partner, QuestionnaireKind.QUIZ, "notice-quiz")
    attempt = started.attempt
    for question_no in range(1, len(attempt.questions) + 1):
        questionnaires.answer(
            session, partner, QuestionnaireKind.QUIZ, "notice-quiz", attempt_id=attempt.id,
            question_no=question_no, raw_answer=right_label(attempt, question_no),
            now=datetime.now(tz=attempt.started_at.tzinfo) + timedelta(minutes=question_no),
        )  # fmt: skip
    session.refresh(attempt)
    assert attempt.points_awarded == 100
    assert notices(session, partner) == []


def test_a_new_quiz_module_is_announced_once_to_whom_it_is_offered(
    session: Session, tmp_path: Path
) -> None:
    bali = new_partner(session, region="Bali")
    jakarta = new_partner(session, region="DKI Jakarta")
    folder = write_content(
        tmp_path / "c", quizzes={"q.yml": quiz_yaml("bali-quiz", audience="{regions: [Bali]}")}
    )
    assert load(session, folder).announced == 1
    assert load(session, folder).announced == 0  # loading again announces nothing
    [(kind, params, _)] = notices(session)
    assert kind == "quiz_new" and params["quiz_code"] == "bali-quiz" and params["points"] == 100
    rows = session.scalars(select(Notification)).all()
    assert [(r.partner_id, r.category) for r in rows] == [(bali.id, "marketing")]
    assert jakarta.id not in {r.partner_id for r in rows}


def test_the_seed_queues_no_notices(session: Session, seeded: datetime) -> None:
    assert notices(session) == []


# --- redemptions ---------------------------------------------------------------------------


@pytest.fixture
def goods(session: Session) -> str:
    load_rewards(session)
    make_reward(session, "TEST-GOODS", "merchandise", 100, stock=5)
    return "TEST-GOODS"


def test_goods_shipped_delivered_are_told(session: Session, goods: str) -> None:
    partner = funded_partner(
        session,
        500,
    )
    number = redeem(session, partner, goods, delivery_address="Jl. Uji 1").redemption.redemption_no
    assert notices(session) == []  # the redeem itself is answered in the chat
    with pytest.raises(InvalidRedemption):  # refused: rolled back, nothing queued
        redemptions.update_redemption(session, number, actor="admin", status="shipped")
    assert notices(session) == []
    redemptions.update_redemption(
        session, number, actor="admin", status="shipped", courier="JNE", tracking_no="JN123"
    )
    redemptions.update_redemption(session, number, actor="admin", status="delivered")
    names = {
        "redemption_no": number,
        "reward_id": "Hadiah TEST-GOODS",
        "reward_en": "Reward TEST-GOODS",
    }
    assert notices(session, partner) == [
        ("redemption_shipped", {**names, "tracking": "JNE JN123"}, number),
        ("redemption_delivered", names, number),
    ]
    with pytest.raises(InvalidTransition):
        redemptions.cancel(session, number, actor="admin")
    assert len(notices(session)) == 2


def test_a_cancellation_is_told_with_the_refund(session: Session, goods: str) -> None:
    partner = funded_partner(session, 500)
    number = redeem(session, partner, goods, delivery_address="Jl. Uji 2").redemption.redemption_no
    redemptions.cancel(session, number, actor="admin", note="out of stock at the warehouse")
    redemptions.cancel(session, number, actor="admin")  # again: nothing changes
    assert notices(session, partner) == [
        ("redemption_cancelled", {"redemption_no": number, "points": 100}, number)
    ]


def test_a_refused_redemption_queues_nothing(session: Session, goods: str) -> None:
    partner = funded_partner(session, 50)
    with pytest.raises(RedemptionRefused):
        redeem(session, partner, goods, delivery_address="Jl. Uji 3")
    assert notices(session) == []


def test_a_payout_settled_later_is_told(
    session: Session, goods: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "PAYOUT_FAKE_MODE", "async")
    partner = funded_partner(session, 1000)
    redemption = redeem(session, partner, "PULSA-25K").redemption
    assert notices(session) == []
    redemptions.settle_payout(session, redemption.payout_ref, "succeeded", actor="payouts")
    assert [kind for kind, *_ in notices(session, partner)] == ["redemption_fulfilled"]


def test_a_payout_settled_at_once_is_answered_in_the_chat(session: Session, goods: str) -> None:
    partner = funded_partner(session, 1000)
    redemption = redeem(session, partner, "PULSA-25K").redemption
    assert redemption.status == "fulfilled"
    assert notices(session) == []


def test_enqueue_joins_the_callers_transaction(session: Session) -> None:
    partner = new_partner(session)
    with pytest.raises(ZeroDivisionError), write_transaction(session):
        notifications.enqueue(session, partner, "tier_up", {"tier": "Gold"}, dedupe_key="x")
        _ = 1 / 0
    assert notices(session) == []
