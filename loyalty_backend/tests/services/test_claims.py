"""The claim lifecycle: submit (stored first), judge against ERP data, re-judge, decide."""

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditLog, Claim, ClaimLine, LedgerEntry
from app.models.claim import ClaimStatus
from app.models.enums import PartnerStatus
from app.services import claim_images, claims, earn_rules, partners
from app.services.errors import (
    ClaimAlreadyDecided,
    ClaimNotFound,
    DuplicateClaim,
    IdempotencyConflict,
    InvalidClaim,
    PartnerSuspended,
)
from tests.claims_utils import (
    erp_invoice,
    load_catalogue,
    partner_with_code,
    photo,
    submit,
)
from tests.utils import assert_ledger_consistent


@pytest.fixture(autouse=True)
def catalogue(session: Session) -> None:
    load_catalogue(session)


def _claim_entries(session: Session, claim_no: str) -> list[LedgerEntry]:
    session.commit()
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.reference_id == claim_no)))


def test_a_matching_claim_is_approved_and_credited_once(session: Session) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/T/0001", partner.erp_customer_code, {"KSGA-24": 10, "TML-48": 5})

    result = submit(session, partner, "inv-t-0001 ", {"KSGA-24": 10, "TML-48": 3})

    claim = result.claim
    assert result.created
    assert claim.status == ClaimStatus.APPROVED
    assert claim.claim_no == f"KLM-{claim.id:06d}"
    assert claim.invoice_no == "inv-t-0001" and claim.invoice_no_normalised == "INV/T/0001"
    expected = earn_rules.award_for_claim(
        session,
        partner=partner,
        claim_lines=[("KSGA-24", 10), ("TML-48", 3)],
        invoice_date=date(2026, 11, 20),
    )
    assert claim.points == expected.points > 0
    assert sum(rule["points"] for rule in claim.rules) == claim.points
    assert all(set(rule["description"]) == {"id", "en"} for rule in claim.rules)
    assert claim.reasons == [] and claim.decided_by == "auto"
    assert [(line.sku, line.erp_quantity, line.match_status) for line in claim.lines] == [
        ("KSGA-24", 10, "matched"),
        ("TML-48", 5, "matched"),
    ]
    [entry] = _claim_entries(session, claim.claim_no)
    assert entry.delta == claim.points and entry.reason == "claim"
    assert entry.reference_type == "claim"
    assert entry.idempotency_key == f"claim:{claim.claim_no}"
    assert assert_ledger_consistent(session, partner.id) == claim.points
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.entity_id == claim.claim_no).order_by(AuditLog.id)
    ).all()
    assert actions == ["claim.submit", "claim.judge"]


def test_the_same_idempotency_key_answers_with_the_first_claim(session: Session) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/T/0002", partner.erp_customer_code, {"KSGA-24": 4})
    first = submit(session, partner, "INV/T/0002", {"KSGA-24": 4}, key="wa:msg-1")
    again = submit(session, partner, "INV-T-0002", {"KSGA-24": 4}, key="wa:msg-1")
    assert not again.created and again.claim.id == first.claim.id
    assert len(_claim_entries(session, first.claim.claim_no)) == 1
    with pytest.raises(IdempotencyConflict):
        submit(session, partner, "INV/T/9999", {"KSGA-24": 4}, key="wa:msg-1")
    # Another partner may use the same key: keys are per partner.
    other = partner_with_code(session)
    erp_invoice(session, "INV/T/0003", other.erp_customer_code, {"KSGA-24": 1})
    assert submit(session, other, "INV/T/0003", {"KSGA-24": 1}, key="wa:msg-1").created


def test_an_invoice_claimed_twice_is_refused_whoever_sends_it(session: Session) -> None:
    budi, sarah = partner_with_code(session), partner_with_code(session)
    erp_invoice(session, "INV/T/0010", budi.erp_customer_code, {"KHT-24": 2})
    first = submit(session, budi, "INV/T/0010", {"KHT-24": 2}).claim

    with pytest.raises(DuplicateClaim) as own:
        submit(session, budi, "inv t 0010", {"KHT-24": 1})
    assert own.value.code == "duplicate_invoice" and own.value.claim_no == first.claim_no
    with pytest.raises(DuplicateClaim) as other:
        submit(session, sarah, "INV-T-0010", {"KHT-24": 2})
    assert other.value.code == "duplicate_invoice" and other.value.claim_no is None
    assert session.scalar(select(func.count()).select_from(Claim)) == 1
    # Refused attempts are not claims, but reviewers find them in the audit log.
    refusals = session.scalars(
        select(AuditLog).where(AuditLog.action == "claim.refused").order_by(AuditLog.id)
    ).all()
    assert [(a.entity_id, a.details["earlier_claim"]) for a in refusals] == [
        (str(budi.id), first.claim_no),
        (str(sarah.id), first.claim_no),
    ]


def test_not_yet_in_erp_waits_then_is_approved_when_the_lines_arrive(session: Session) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/T/0020", {"SCK-12": 6}).claim
    assert claim.status == ClaimStatus.PENDING_REVIEW
    assert [r["code"] for r in claim.reasons] == ["not_in_erp"]
    assert "1-2" in claim.reasons[0]["description"]["en"]
    assert claims.review_eta(claim) == claims.ETA_ERP
    assert claim.lines[0].match_status == "no_erp_data"
    assert _claim_entries(session, claim.claim_no) == []

    # The ERP push re-judges the waiting claim (erp.ingest calls the claims service).
    erp_invoice(session, "INV/T/0020", partner.erp_customer_code, {"SCK-12": 6})
    session.expire_all()
    claim = claims.get_claim(session, claim.claim_no)
    assert claim.status == ClaimStatus.APPROVED and claim.points > 0
    assert claim.reasons == [] and claims.review_eta(claim) is None
    assert [e.delta for e in _claim_entries(session, claim.claim_no)] == [claim.points]


def test_more_than_the_invoice_is_rejected_and_a_corrected_claim_passes(
    session: Session,
) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/T/0030", partner.erp_customer_code, {"KSGA-24": 10})
    claim = submit(session, partner, "INV/T/0030", {"KSGA-24": 12}).claim
    assert claim.status == ClaimStatus.REJECTED and claim.points == 0
    [reason] = claim.reasons
    assert reason["code"] == "quantity_above_invoice"
    assert "12" in reason["description"]["id"] and "10" in reason["description"]["id"]
    assert "Kopi Susu Gula Aren" in reason["description"]["en"]
    assert claim.lines[0].match_status == "quantity_above"
    assert claims.review_eta(claim) is None
    # A rejected claim frees its invoice: the partner corrects and sends again.
    fixed = submit(session, partner, "INV/T/0030", {"KSGA-24": 10}).claim
    assert fixed.status == ClaimStatus.APPROVED


def test_a_product_not_on_the_invoice_is_rejected(session: Session) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/T/0040", partner.erp_customer_code, {"KSGA-24": 10})
    claim = submit(session, partner, "INV/T/0040", {"KSGA-24": 2, "BKL-20": 1}).claim
    assert claim.status == ClaimStatus.REJECTED
    assert [r["code"] for r in claim.reasons] == ["sku_not_on_invoice"]
    assert "Biskuit Kelapa" in claim.reasons[0]["description"]["id"]
    assert [line.match_status for line in claim.lines] == ["matched", "not_on_invoice"]


def test_another_partners_invoice_is_rejected_and_stays_claimable(session: Session) -> None:
    owner, other = partner_with_code(session), partner_with_code(session)
    erp_invoice(session, "INV/T/0050", owner.erp_customer_code, {"TML-48": 3})
    claim = submit(session, other, "INV/T/0050", {"TML-48": 3}).claim
    assert claim.status == ClaimStatus.REJECTED
    assert [r["code"] for r in claim.reasons] == ["other_customer"]
    assert [s["code"] for s in claim.signals] == ["other_customer"]
    assert claim.signals[0]["details"]["invoice_customer_codes"] == [owner.erp_customer_code]
    assert claim.lines[0].match_status == "other_customer"
    assert submit(session, owner, "INV/T/0050", {"TML-48": 3}).claim.status == "approved"


def test_a_partner_without_customer_code_goes_to_review(session: Session) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/T/0060", partner.erp_customer_code, {"TML-48": 3})
    nobody = partner_with_code(session)
    with session.begin():
        nobody.erp_customer_code = None
    claim = submit(session, nobody, "INV/T/0060", {"TML-48": 3}).claim
    assert claim.status == ClaimStatus.PENDING_REVIEW
    assert [r["code"] for r in claim.reasons] == ["no_customer_code"]


def test_invalid_claims_are_refused_before_anything_is_stored(session: Session) -> None:
    partner = partner_with_code(session)
    cases = [
        ({"invoice_no": None, "lines": {"KSGA-24": 1}}, "invoice number"),
        ({"invoice_no": "INV/T/0070", "lines": {}}, "product line"),
        ({"invoice_no": "INV/T/0070", "lines": {"NOPE-1": 1}}, "unknown SKU: NOPE-1"),
        ({"invoice_no": "INV/T/0070", "lines": {"KSGA-24": 0}}, "between 1 and"),
        ({"invoice_no": "INV/T/0070", "lines": {"KSGA-24": 1}, "image_id": "0" * 64}, "image"),
        ({"invoice_no": None, "lines": {}, "kind": "display"}, "photo"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidClaim, match=message):
            submit(session, partner, kwargs.pop("invoice_no"), kwargs.pop("lines"), **kwargs)
    assert session.scalar(select(func.count()).select_from(Claim)) == 0


def test_a_sku_written_twice_is_one_line(session: Session) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/T/0080", partner.erp_customer_code, {"KHT-24": 5})
    result = claims.submit_claim(
        session,
        partner,
        kind="sales",
        invoice_no="INV/T/0080",
        invoice_date=None,
        lines=[{"sku": "kht-24", "quantity": 2}, {"sku": "KHT-24", "quantity": 3}],
        image_id=None,
        idempotency_key="wa:twice",
    )
    assert [(line.sku, line.quantity) for line in result.claim.lines] == [("KHT-24", 5)]
    assert result.claim.status == "approved"
    assert result.claim.invoice_date == date(2026, 11, 20)  # taken from the ERP record


def test_a_suspended_partner_cannot_claim(session: Session) -> None:
    partner = partner_with_code(session)
    partners.set_status(session, partner.wa_id, PartnerStatus.SUSPENDED, actor="admin")
    with pytest.raises(PartnerSuspended):
        submit(session, partner, "INV/T/0090", {"KSGA-24": 1})


def test_a_display_claim_waits_for_a_reviewer_who_approves_once(session: Session) -> None:
    partner = partner_with_code(session)
    image = claim_images.store_image(session, photo(1), "image/png")
    claim = submit(session, partner, None, kind="display", image_id=image.id).claim
    assert claim.status == ClaimStatus.PENDING_REVIEW and claim.invoice_no_normalised is None
    assert [r["code"] for r in claim.reasons] == ["display_review"]
    assert claims.review_eta(claim) == claims.ETA_REVIEW

    approved = claims.decide(session, claim.claim_no, "approve", "nice shelf", "admin")
    assert approved.status == ClaimStatus.APPROVED and approved.points == 100
    assert approved.decided_by == "admin" and approved.decision_reason == "nice shelf"
    assert [rule["rule"] for rule in approved.rules] == ["DISPLAY-PHOTO"]
    with pytest.raises(ClaimAlreadyDecided):
        claims.decide(session, claim.claim_no, "approve", "", "admin")
    with pytest.raises(ClaimAlreadyDecided):
        claims.decide(session, claim.claim_no, "reject", "changed my mind", "admin")
    assert [e.delta for e in _claim_entries(session, claim.claim_no)] == [100]
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "claim.approve")).one()
    assert audit.actor == "admin" and audit.entity_id == claim.claim_no
    assert audit.details["points"] == 100


def test_a_reviewer_rejects_with_a_reason_the_partner_reads(session: Session) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/T/0100", {"KSGA-24": 1}).claim
    rejected = claims.decide(session, claim.claim_no, "reject", "nota tidak terbaca", "admin")
    assert rejected.status == ClaimStatus.REJECTED and rejected.points == 0
    assert rejected.reasons[0]["code"] == "rejected_by_reviewer"
    assert "nota tidak terbaca" in rejected.reasons[0]["description"]["id"]
    assert session.scalars(select(AuditLog.action).where(AuditLog.action == "claim.reject")).all()
    with pytest.raises(ClaimNotFound):
        claims.decide(session, "KLM-999999", "approve", "", "admin")
    # Approved or rejected automatically is decided too.
    erp_invoice(session, "INV/T/0101", partner.erp_customer_code, {"KSGA-24": 1})
    auto = submit(session, partner, "INV/T/0101", {"KSGA-24": 1}).claim
    with pytest.raises(ClaimAlreadyDecided):
        claims.decide(session, auto.claim_no, "approve", "", "admin")


def test_a_pending_claim_approved_by_a_reviewer_is_not_credited_again_by_erp(
    session: Session,
) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/T/0110", {"KSGA-24": 2}).claim
    claims.decide(session, claim.claim_no, "approve", "checked the paper invoice", "admin")
    erp_invoice(session, "INV/T/0110", partner.erp_customer_code, {"KSGA-24": 2})
    assert len(_claim_entries(session, claim.claim_no)) == 1
    assert claims.get_claim(session, claim.claim_no).decided_by == "admin"


def test_a_claim_survives_a_failure_between_storing_and_judging(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/T/0120", partner.erp_customer_code, {"KSGA-24": 2})

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(earn_rules, "award_for_claim", boom)
    stored = submit(session, partner, "INV/T/0120", {"KSGA-24": 2}, key="wa:crash").claim
    assert stored.status == ClaimStatus.SUBMITTED
    assert claims.partner_reasons(stored)[0]["code"] == "being_checked"
    monkeypatch.undo()

    assert claims.rejudge_submitted(session) == 1
    session.expire_all()
    claim = claims.get_claim(session, stored.claim_no)
    assert claim.status == ClaimStatus.APPROVED
    assert len(_claim_entries(session, claim.claim_no)) == 1
    assert claims.rejudge_submitted(session) == 0


def test_a_replay_of_a_claim_left_submitted_judges_it(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/T/0130", partner.erp_customer_code, {"TML-48": 2})
    monkeypatch.setattr(earn_rules, "award_for_claim", lambda *a, **k: 1 / 0)
    submit(session, partner, "INV/T/0130", {"TML-48": 2}, key="wa:again")
    monkeypatch.undo()
    replay = submit(session, partner, "INV/T/0130", {"TML-48": 2}, key="wa:again")
    assert not replay.created and replay.claim.status == ClaimStatus.APPROVED


def test_rejudge_leaves_claims_that_need_a_person(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.config import settings

    partner = partner_with_code(session)
    monkeypatch.setattr(settings, "CLAIM_QUANTITY_REVIEW_LIMIT", 5)
    claim = submit(session, partner, "INV/T/0140", {"KSGA-24": 6}).claim
    assert claim.status == ClaimStatus.PENDING_REVIEW
    assert {s["code"] for s in claim.signals} == {"unusual_quantity"}
    result = erp_invoice(session, "INV/T/0140", partner.erp_customer_code, {"KSGA-24": 6})
    assert claims.rejudge_pending_for_invoices(session, result.invoice_nos) == 0
    assert claims.get_claim(session, claim.claim_no).status == ClaimStatus.PENDING_REVIEW


def test_list_claims_newest_first_and_only_the_partners_own(session: Session) -> None:
    partner, other = partner_with_code(session), partner_with_code(session)
    numbers = [
        submit(session, partner, f"INV/T/02{n}", {"KSGA-24": 1}).claim.claim_no for n in range(3)
    ]
    submit(session, other, "INV/T/0299", {"KSGA-24": 1})
    assert [c.claim_no for c in claims.list_claims(session, partner.id)] == numbers[::-1]
    assert len(claims.list_claims(session, partner.id, limit=2)) == 2


def test_approved_quantity_in_period_counts_approved_claims_by_invoice_date(
    session: Session,
) -> None:
    partner = partner_with_code(session)
    for n, (day, quantity) in enumerate(((date(2026, 11, 2), 7), (date(2026, 10, 30), 5))):
        lines = {"KSGA-24": quantity, "TML-48": 1}
        erp_invoice(session, f"INV/T/03{n}", partner.erp_customer_code, lines, invoice_date=day)
        submit(session, partner, f"INV/T/03{n}", lines, invoice_date=day)
    submit(session, partner, "INV/T/0399", {"KSGA-24": 50}, invoice_date=date(2026, 11, 3))
    november = (date(2026, 11, 1), date(2026, 11, 30))
    count = claims.approved_quantity_in_period
    assert count(session, partner.id, None, *november) == 8
    assert count(session, partner.id, frozenset({"KSGA-24"}), *november) == 7
    assert count(session, partner.id, None, date(2026, 10, 1), date(2026, 11, 30)) == 14


def test_lines_are_stored_with_the_claim(session: Session) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/T/0400", {"KSGA-24": 1, "AMN-24": 3}).claim
    rows = session.execute(
        select(ClaimLine.sku, ClaimLine.quantity).where(ClaimLine.claim_id == claim.id)
    ).all()
    assert sorted(rows) == [("AMN-24", 3), ("KSGA-24", 1)]
