"""The claim lifecycle: submit (stored first), judge, re-judge, and a reviewer's decision.

Lifecycle:
1. ``submit_claim`` validates the claim, refuses duplicates (``DuplicateClaim``: the same
   normalised invoice in a claim that is not rejected, by anyone, or the very same photo),
   and stores it as ``submitted`` in a transaction of its own, which commits. From then
   on it cannot be lost: if judging fails or the process dies, ``rejudge_submitted`` (run
   at startup and by ``python -m app.jobs.rejudge_claims``) judges it later.
   Racing submissions of one invoice are settled by the partial unique index on the
   normalised invoice number (app/models/claim.py): one is stored, the others get
   ``DuplicateClaim``. The same ``(partner, idempotency_key)`` again answers with the
   first claim (``created=False``), also when the two requests race.
2. ``judge`` (a second transaction, the claim row locked) decides:
   - sales claim, ERP lines for the invoice with the partner's customer code, every SKU
     on the invoice and claimed quantity <= recorded -> ``approved``; the points come from
     ``earn_rules.award_for_claim`` (the one place that says how many) and are credited
     through the ledger with key ``claim:<claim_no>`` in the same transaction as the
     status change, so they are credited once whatever happens;
   - no ERP lines for the invoice yet -> ``pending_review`` ("not yet in the
     distributor's data, usually 1-2 working days"); ``rejudge_pending_for_invoices``
     judges it again when ERP lines arrive (app/services/erp.py calls it after ingest);
   - the invoice is another customer's, a SKU is not on it, or more is claimed than
     recorded -> ``rejected`` with a reason a shop owner understands;
   - a fraud signal asking for a person (app/services/fraud.py) -> ``pending_review``;
   - display claims are always ``pending_review``; approved, they earn the fixed display
     reward of the earn rules.
3. ``decide``: a reviewer approves (credited once, through the same ledger key) or
   rejects with a reason; audited. A claim that is already approved or rejected -> 409.

The partner is told of a decision they did not wait for in the chat (issue 21: a
reviewer's ``decide``, a re-judge when ERP lines arrive, or the re-judge of a claim whose
judging failed): ``claim_approved`` + ``points_credited`` (+ ``tier_up``), grouped by the
claim number, or ``claim_rejected``, queued in the transaction that decides
(app/services/notifications.py). A claim judged while the partner submits it is answered
in the chat, so it queues nothing.

Partner-facing ``reasons`` are bilingual plain words; reviewer-facing ``signals`` carry
the details. ``review_eta`` says when a pending claim is usually answered.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_date
from app.core.db import in_write_transaction, write_transaction
from app.models import Claim, ClaimImage, ClaimLine, ERPSalesLine, LedgerEntry, Partner, Tier
from app.models.claim import ClaimKind, ClaimStatus, LineMatch
from app.models.enums import LedgerReason, PartnerStatus
from app.services import (
    audit,
    catalogue,
    earn_rules,
    erp,
    fraud,
    ledger,
    notifications,
    partners,
)
from app.services.errors import (
    ClaimAlreadyDecided,
    ClaimNotFound,
    DuplicateClaim,
    IdempotencyConflict,
    InvalidClaim,
)
from app.services.fraud import Severity
from app.services.ledger import KeyNamespace

log = logging.getLogger("app.services.claims")

JUDGE_ACTOR = "system:claims"
CLAIM_NO_PREFIX = "KLM-"
MAX_LINES = 50
MAX_QUANTITY = 100_000

Text = dict[str, str]  # {"id": ..., "en": ...}

ETA_ERP: Text = {"id": "biasanya 1-2 hari kerja", "en": "usually 1-2 working days"}
ETA_REVIEW: Text = {"id": "biasanya dalam 2 hari kerja", "en": "usually within 2 working days"}


def claim_no_for(claim_id: int) -> str:
    """``KLM-000123``: from the row id, so unique without a sequence of its own."""
    return f"{CLAIM_NO_PREFIX}{claim_id:06d}"


@dataclass(frozen=True)
class SubmitResult:
    claim: Claim
    created: bool  # False: the idempotency key was used before; this is that claim


@dataclass(frozen=True)
class LineCheck:
    """One claimed line next to the distributor's record of the invoice."""

    sku: str
    quantity: int
    erp_quantity: int | None
    match: LineMatch


# --- submit ------------------------------------------------------------------------------


def submit_claim(
    session: Session,
    partner: Partner,
    *,
    kind: str,
    invoice_no: str | None,
    invoice_date: date | None,
    lines: Sequence[Mapping[str, Any] | tuple[str, int]],
    image_id: str | None,
    idempotency_key: str,
    now: datetime | None = None,
    actor: str = "service",
) -> SubmitResult:
    """Store the claim (committed), then judge it; see the module docstring.

    Raises InvalidClaim (unknown SKU or image, a sales claim without invoice number or
    lines, a display claim without a photo), DuplicateClaim (refused: invoice or photo
    already claimed), IdempotencyConflict (the key was used for another claim) and
    PartnerSuspended / PartnerLeft.
    """
    if in_write_transaction(session):
        raise RuntimeError("submit_claim commits the claim before judging it: call it outside")
    now = now or utcnow()
    claim_kind = ClaimKind(kind)
    normalised = None
    if claim_kind is ClaimKind.SALES and invoice_no:
        normalised = erp.normalise_invoice_no(invoice_no) or None

    replay = _by_key(session, partner.id, idempotency_key)
    if replay is not None:
        return _replayed(session, replay, claim_kind, normalised)

    partners.ensure_active(partner)
    merged = _merged_lines(lines)
    _validate(session, claim_kind, normalised, merged, image_id)
    try:
        _refuse_duplicates(session, partner, normalised, image_id)
    except DuplicateClaim as refused:
        # The same request may have been stored since we looked for its key.
        replay = _by_key(session, partner.id, idempotency_key)
        if replay is not None:
            return _replayed(session, replay, claim_kind, normalised)
        _audit_refusal(session, partner, refused, normalised, image_id, actor, now)
        raise
    try:
        with write_transaction(session):
            claim = Claim(
                partner_id=partner.id,
                kind=claim_kind.value,
                status=ClaimStatus.SUBMITTED.value,
                invoice_no=invoice_no.strip() if invoice_no else None,
                invoice_no_normalised=normalised,
                invoice_date=invoice_date,
                image_id=image_id,
                points=0,
                rules=[],
                reasons=[],
                signals=[],
                idempotency_key=idempotency_key,
                created_at=now,
            )
            session.add(claim)
            session.flush()  # the unique key and the open-invoice index decide here
            claim.claim_no = claim_no_for(claim.id)
            for sku, quantity in merged:
                session.add(ClaimLine(claim=claim, sku=sku, quantity=quantity))
            audit.record(
                session,
                actor=actor,
                action="claim.submit",
                entity="claim",
                entity_id=claim.claim_no,
                details={
                    "partner_id": partner.id,
                    "kind": claim.kind,
                    "invoice_no_normalised": normalised,
                    "image_id": image_id,
                    "lines": [[sku, quantity] for sku, quantity in merged],
                },
                now=now,
            )
    except IntegrityError:
        # A racing request won: the same key (answer with its claim) or the same invoice.
        replay = _by_key(session, partner.id, idempotency_key)
        if replay is not None:
            return _replayed(session, replay, claim_kind, normalised)
        try:
            _refuse_duplicates(session, partner, normalised, image_id)
        except DuplicateClaim as refused:
            _audit_refusal(session, partner, refused, normalised, image_id, actor, now)
            raise
        raise
    claim_id = claim.id
    try:
        return SubmitResult(judge(session, claim_id, now=now), created=True)
    except Exception:
        # Stored and committed: the re-judge job decides it later; the partner sees it
        # as being checked.
        log.exception("judging a stored claim failed", extra={"claim_no": claim.claim_no})
        session.rollback()
        return SubmitResult(get_claim_by_id(session, claim_id), created=True)


def _audit_refusal(
    session: Session,
    partner: Partner,
    refused: DuplicateClaim,
    normalised: str | None,
    image_id: str | None,
    actor: str,
    now: datetime,
) -> None:
    """A refused duplicate is not a claim, but reviewers see the attempt in the audit."""
    with write_transaction(session):
        audit.record(
            session,
            actor=actor,
            action="claim.refused",
            entity="partner",
            entity_id=partner.id,
            details={
                "code": refused.code,
                "invoice_no_normalised": normalised,
                "image_id": image_id,
                "earlier_claim": refused.earlier_claim_no,
            },
            now=now,
        )


def _by_key(session: Session, partner_id: int, key: str) -> Claim | None:
    session.commit()  # read what racing requests committed
    return session.scalars(
        select(Claim).where(Claim.partner_id == partner_id, Claim.idempotency_key == key)
    ).one_or_none()


def _replayed(
    session: Session, claim: Claim, kind: ClaimKind, normalised: str | None
) -> SubmitResult:
    if claim.kind != kind.value or claim.invoice_no_normalised != normalised:
        raise IdempotencyConflict("idempotency key already used for a different claim")
    if claim.status == ClaimStatus.SUBMITTED.value:
        # The first request has not judged it (yet, or it died): judging is idempotent.
        claim = judge(session, claim.id)
    return SubmitResult(claim, created=False)


def _merged_lines(lines: Sequence[Mapping[str, Any] | tuple[str, int]]) -> list[tuple[str, int]]:
    """(sku, quantity) pairs, one per SKU (a SKU written twice is summed), in order."""
    totals: dict[str, int] = {}
    for line in lines:
        sku, quantity = (line["sku"], line["quantity"]) if isinstance(line, Mapping) else line
        sku = str(sku).strip().upper()
        totals[sku] = totals.get(sku, 0) + int(quantity)
    return list(totals.items())


def _validate(
    session: Session,
    kind: ClaimKind,
    normalised: str | None,
    lines: list[tuple[str, int]],
    image_id: str | None,
) -> None:
    if kind is ClaimKind.SALES:
        if not normalised:
            raise InvalidClaim("a sales claim needs the invoice number")
        if not lines:
            raise InvalidClaim("a sales claim needs at least one product line")
    elif image_id is None:
        raise InvalidClaim("a display claim needs a photo (image_id)")
    if len(lines) > MAX_LINES:
        raise InvalidClaim(f"at most {MAX_LINES} product lines")
    for sku, quantity in lines:
        if not 0 < quantity <= MAX_QUANTITY:
            raise InvalidClaim(f"quantity of {sku} must be between 1 and {MAX_QUANTITY}")
    known = catalogue.get_products(session, [sku for sku, _ in lines])
    unknown = [sku for sku, _ in lines if sku not in known]
    if unknown:
        raise InvalidClaim(f"unknown SKU: {', '.join(unknown)}")
    if image_id is not None and session.get(ClaimImage, image_id) is None:
        raise InvalidClaim("unknown image_id: upload the photo first")


def _refuse_duplicates(
    session: Session, partner: Partner, normalised: str | None, image_id: str | None
) -> None:
    if normalised is not None:
        earlier = fraud.duplicate_invoice(session, normalised)
        if earlier is not None:
            own = earlier.partner_id == partner.id
            raise DuplicateClaim(
                f"invoice {normalised} was already claimed"
                + (f" in your claim {earlier.claim_no}" if own else " by another partner"),
                code="duplicate_invoice",
                claim_no=earlier.claim_no if own else None,
                earlier_claim_no=earlier.claim_no,
            )
    if image_id is not None:
        earlier = fraud.duplicate_photo(session, image_id)
        if earlier is not None:
            own = earlier.partner_id == partner.id
            raise DuplicateClaim(
                "this photo was already used"
                + (f" in your claim {earlier.claim_no}" if own else " in another claim"),
                code="duplicate_photo",
                claim_no=earlier.claim_no if own else None,
                earlier_claim_no=earlier.claim_no,
            )


# --- judge -------------------------------------------------------------------------------


def judge(
    session: Session, claim_id: int, *, now: datetime | None = None, notify: bool = False
) -> Claim:
    """Judge a ``submitted`` claim (one transaction, the row locked); no-op otherwise.
    ``notify``: the partner is not waiting for the answer, so a decision is queued as a
    notice (module docstring)."""
    return _judge(session, claim_id, frozenset({ClaimStatus.SUBMITTED.value}), now, notify)


def rejudge_pending_for_invoices(
    session: Session, normalised_invoice_nos: Iterable[str], *, now: datetime | None = None
) -> int:
    """Judge again the pending sales claims of these invoices (ERP lines just arrived).

    Claims whose signals ask for a person, or that a reviewer touched, stay as they are.
    Returns how many claims changed status.
    """
    nos = sorted({n for n in normalised_invoice_nos if n})
    if not nos:
        return 0
    session.commit()
    candidates = session.execute(
        select(Claim.id, Claim.signals).where(
            Claim.kind == ClaimKind.SALES.value,
            Claim.status == ClaimStatus.PENDING_REVIEW.value,
            Claim.decided_by.is_(None),
            Claim.invoice_no_normalised.in_(nos),
        )
    ).all()
    changed = 0
    allowed = frozenset({ClaimStatus.PENDING_REVIEW.value})
    for claim_id, signals in candidates:
        if fraud.needs_review(signals or []):
            continue
        claim = _judge(session, claim_id, allowed, now, notify=True)
        changed += claim.status != ClaimStatus.PENDING_REVIEW.value
    return changed


def rejudge_submitted(
    session: Session, *, older_than: timedelta = timedelta(0), now: datetime | None = None
) -> int:
    """Judge every claim still ``submitted`` (stored, then the process died). Returns how
    many were judged; one claim's failure is logged and does not stop the others."""
    now = now or utcnow()
    session.commit()
    ids = session.scalars(
        select(Claim.id)
        .where(
            Claim.status == ClaimStatus.SUBMITTED.value,
            Claim.created_at <= now - older_than,
        )
        .order_by(Claim.id)
    ).all()
    judged = 0
    for claim_id in ids:
        try:
            claim = judge(session, claim_id, now=now, notify=True)
        except Exception:
            log.exception("re-judging a submitted claim failed", extra={"claim_id": claim_id})
            session.rollback()
            continue
        judged += claim.status != ClaimStatus.SUBMITTED.value
    return judged


def _lock(session: Session, claim_id: int) -> Claim:
    claim = session.scalars(
        select(Claim)
        .where(Claim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if claim is None:
        raise ClaimNotFound()
    return claim


def _judge(
    session: Session,
    claim_id: int,
    allowed: frozenset[str],
    now: datetime | None,
    notify: bool = False,
) -> Claim:
    now = now or utcnow()
    with write_transaction(session):
        claim = _lock(session, claim_id)
        if claim.status in allowed:
            before = claim.status
            tier_before = (
                notifications.tier_rank(session, claim.partner_id, now) if notify else None
            )
            _judge_locked(session, claim, now)
            if notify:
                _notify_decision(session, claim, tier_before, now)
            audit.record(
                session,
                actor=JUDGE_ACTOR,
                action="claim.judge",
                entity="claim",
                entity_id=claim.claim_no or claim.id,
                details={
                    "from": before,
                    "to": claim.status,
                    "points": claim.points,
                    "reasons": [r["code"] for r in claim.reasons],
                    "signals": [s["code"] for s in claim.signals],
                },
                now=now,
            )
    return claim


def _judge_locked(session: Session, claim: Claim, now: datetime) -> None:
    partner = session.get(Partner, claim.partner_id)
    assert partner is not None
    erp_lines = (
        erp.sales_lines_for_invoice(session, claim.invoice_no_normalised)
        if claim.kind == ClaimKind.SALES.value and claim.invoice_no_normalised
        else []
    )
    signals = fraud.assess(session, claim, partner, erp_lines)
    claim.signals = [s.as_json() for s in signals]
    claim.judged_at = now
    claim.decided_by = None
    products = catalogue.get_products(session, [line.sku for line in claim.lines])

    refusals = [s for s in signals if s.severity is Severity.REFUSE]
    if refusals:
        _set(claim, ClaimStatus.REJECTED, [_refusal_reason(s) for s in refusals])
        _record_line_checks(claim, erp_lines, partner)
        return
    if claim.kind == ClaimKind.DISPLAY.value:
        _set(claim, ClaimStatus.PENDING_REVIEW, [_reason("display_review")])
        return

    checks = _record_line_checks(claim, erp_lines, partner)
    if not erp_lines:
        _set(claim, ClaimStatus.PENDING_REVIEW, [_reason("not_in_erp")])
        return
    mismatches = [c for c in checks if c.match is not LineMatch.MATCHED]
    if mismatches:
        _set(
            claim,
            ClaimStatus.REJECTED,
            [_mismatch_reason(c, products, claim.invoice_no or "") for c in mismatches],
        )
        return
    if partner.erp_customer_code is None:
        _set(claim, ClaimStatus.PENDING_REVIEW, [_reason("no_customer_code")])
        return
    if any(s.severity is Severity.REVIEW for s in signals):
        _set(claim, ClaimStatus.PENDING_REVIEW, [_reason("manual_review")])
        return
    if partner.status != PartnerStatus.ACTIVE:
        _set(claim, ClaimStatus.PENDING_REVIEW, [_reason("partner_inactive")])
        return
    if claim.invoice_date is None:
        claim.invoice_date = erp_lines[0].invoice_date
    _approve(session, claim, partner, now, JUDGE_ACTOR)
    claim.decided_by = "auto"


def line_checks(
    claim_lines: Sequence[tuple[str, int]],
    erp_lines: Sequence[ERPSalesLine],
    customer_code: str | None,
) -> list[LineCheck]:
    """Each claimed (sku, quantity) next to the ERP lines of the invoice."""
    recorded: dict[str, int] = defaultdict(int)
    for line in erp_lines:
        recorded[line.sku] += int(line.quantity)
    codes = {line.customer_code for line in erp_lines}
    other_customer = customer_code is not None and bool(codes) and codes != {customer_code}
    checks = []
    for sku, quantity in claim_lines:
        erp_quantity = recorded.get(sku)
        if not erp_lines:
            match = LineMatch.NO_ERP_DATA
        elif other_customer:
            match = LineMatch.OTHER_CUSTOMER
        elif erp_quantity is None:
            match = LineMatch.NOT_ON_INVOICE
        elif quantity > erp_quantity:
            match = LineMatch.QUANTITY_ABOVE
        else:
            match = LineMatch.MATCHED
        checks.append(LineCheck(sku, quantity, erp_quantity, match))
    return checks


def _record_line_checks(
    claim: Claim, erp_lines: Sequence[ERPSalesLine], partner: Partner
) -> list[LineCheck]:
    if claim.kind != ClaimKind.SALES.value:
        return []
    checks = line_checks(
        [(line.sku, line.quantity) for line in claim.lines], erp_lines, partner.erp_customer_code
    )
    for line, check in zip(claim.lines, checks, strict=True):
        line.erp_quantity = check.erp_quantity
        line.match_status = check.match.value
    return checks


def _set(claim: Claim, status: ClaimStatus, reasons: list[dict[str, Any]]) -> None:
    claim.status = status.value
    claim.reasons = reasons
    if status is not ClaimStatus.APPROVED:
        claim.points = 0
        claim.rules = []


def _approve(session: Session, claim: Claim, partner: Partner, now: datetime, actor: str) -> None:
    """Award the points and credit them, in the caller's transaction (claim row locked)."""
    award = earn_rules.award_for_claim(
        session,
        partner=partner,
        claim_lines=[(line.sku, line.quantity) for line in claim.lines],
        invoice_date=claim.invoice_date or wib_date(claim.created_at),
        kind=claim.kind,
        now=now,
    )
    claim.status = ClaimStatus.APPROVED.value
    claim.reasons = []
    claim.points = award.points
    claim.rules = [
        {"rule": line.rule_code, "points": line.points, "description": dict(line.description)}
        for line in award.lines
    ]
    if award.points <= 0:
        return
    what = f"Sales claim {claim.invoice_no}" if claim.kind == "sales" else "Display claim"
    ledger.earn(
        session,
        partner_id=partner.id,
        points=award.points,
        reason=LedgerReason.CLAIM.value,
        reference_type="claim",
        reference_id=claim.claim_no or str(claim.id),
        idempotency_key=f"{KeyNamespace.CLAIM.value}{claim.claim_no}",
        key_owner=KeyNamespace.CLAIM,
        description=f"{what} ({claim.claim_no})"[:200],
        now=now,
        actor=actor,
    )


def _notify_decision(
    session: Session, claim: Claim, tier_before: Tier | None, now: datetime
) -> None:
    """Queue the notices of an approval or a rejection (in the deciding transaction)."""
    number = claim.claim_no or claim_no_for(claim.id)
    partner = session.get(Partner, claim.partner_id)
    assert partner is not None
    if claim.status == ClaimStatus.REJECTED.value:
        texts = [r.get("description", {}) for r in claim.reasons]
        notifications.enqueue(
            session,
            partner,
            "claim_rejected",
            {
                "claim_no": number,
                "reason_id": " ".join(t.get("id", "") for t in texts).strip(),
                "reason_en": " ".join(t.get("en", "") for t in texts).strip(),
            },
            dedupe_key=f"claim:{number}:rejected",
            group_key=number,
            now=now,
        )
        return
    if claim.status != ClaimStatus.APPROVED.value:
        return
    notifications.enqueue(
        session,
        partner,
        "claim_approved",
        {"claim_no": number, "points": int(claim.points)},
        dedupe_key=f"claim:{number}:approved",
        group_key=number,
        now=now,
    )
    entry = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.idempotency_key == f"{KeyNamespace.CLAIM.value}{number}"
        )
    ).one_or_none()
    if entry is not None:
        notifications.notify_credit(
            session,
            partner,
            entry,
            {"id": f"Klaim {number}", "en": f"Claim {number}"},
            group_key=number,
            now=now,
        )
        notifications.notify_tier_up(session, partner, tier_before, group_key=number, now=now)


# --- decide --------------------------------------------------------------------------------


def decide(
    session: Session,
    claim_no: str,
    decision: str,
    reason: str,
    actor: str,
    *,
    now: datetime | None = None,
) -> Claim:
    """A reviewer approves (points credited once) or rejects (with ``reason``) a claim
    that is pending review. Audited. ClaimAlreadyDecided (409) if it is approved or
    rejected already; ClaimNotFound (404)."""
    if decision not in ("approve", "reject"):
        raise ValueError("decision must be 'approve' or 'reject'")
    now = now or utcnow()
    reason = reason.strip()
    with write_transaction(session):
        claim_id = session.scalar(select(Claim.id).where(Claim.claim_no == claim_no))
        if claim_id is None:
            raise ClaimNotFound()
        claim = _lock(session, claim_id)
        if claim.status not in (ClaimStatus.PENDING_REVIEW.value, ClaimStatus.SUBMITTED.value):
            raise ClaimAlreadyDecided(f"claim {claim_no} is already {claim.status}")
        before = claim.status
        partner = session.get(Partner, claim.partner_id)
        assert partner is not None
        tier_before = None
        if decision == "approve":
            tier_before = notifications.tier_rank(session, partner.id, now)
            _approve(session, claim, partner, now, actor)
        else:
            _set(claim, ClaimStatus.REJECTED, [_reviewer_reason(reason)])
        claim.judged_at = now
        claim.decided_by = actor
        claim.decision_reason = reason or None
        _notify_decision(session, claim, tier_before, now)
        audit.record(
            session,
            actor=actor,
            action=f"claim.{decision}",
            entity="claim",
            entity_id=claim_no,
            details={
                "from": before,
                "to": claim.status,
                "points": claim.points,
                "reason": reason,
                "partner_id": claim.partner_id,
            },
            now=now,
        )
    return claim


# --- reads ---------------------------------------------------------------------------------


def get_claim(session: Session, claim_no: str) -> Claim:
    claim = session.scalars(
        select(Claim).where(Claim.claim_no == claim_no).execution_options(populate_existing=True)
    ).one_or_none()
    if claim is None:
        raise ClaimNotFound()
    return claim


def get_claim_by_id(session: Session, claim_id: int) -> Claim:
    claim = session.get(Claim, claim_id, populate_existing=True)
    if claim is None:
        raise ClaimNotFound()
    return claim


def list_claims(session: Session, partner_id: int, *, limit: int = 5) -> list[Claim]:
    """The partner's claims, newest first."""
    return list(
        session.scalars(
            select(Claim)
            .where(Claim.partner_id == partner_id)
            .order_by(Claim.created_at.desc(), Claim.id.desc())
            .limit(limit)
        )
    )


def list_for_review(
    session: Session, *, status: str | None, limit: int, offset: int
) -> tuple[list[tuple[Claim, Partner]], int]:
    """Claims (with their partner) for reviewers, newest first, and how many match."""
    where = [Claim.status == status] if status else []
    total = session.scalar(select(func.count()).select_from(Claim).where(*where)) or 0
    rows = session.execute(
        select(Claim, Partner)
        .join(Partner, Partner.id == Claim.partner_id)
        .where(*where)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [(claim, partner) for claim, partner in rows], total


def current_line_checks(session: Session, claim: Claim, partner: Partner) -> list[LineCheck]:
    """The claim's lines against the ERP data as it is now (for reviewers)."""
    if claim.kind != ClaimKind.SALES.value or not claim.invoice_no_normalised:
        return [
            LineCheck(line.sku, line.quantity, None, LineMatch.UNCHECKED) for line in claim.lines
        ]
    erp_lines = erp.sales_lines_for_invoice(session, claim.invoice_no_normalised)
    return line_checks(
        [(line.sku, line.quantity) for line in claim.lines], erp_lines, partner.erp_customer_code
    )


def approved_quantity_in_period(
    session: Session, partner_id: int, skus: frozenset[str] | None, start: date, end: date
) -> int:
    """Units in the partner's approved claims whose invoice date is in [start, end]
    (WIB dates, inclusive), only ``skus`` when given. Used by upsell rules (earn_rules)."""
    query = (
        select(func.coalesce(func.sum(ClaimLine.quantity), 0))
        .join(Claim, Claim.id == ClaimLine.claim_id)
        .where(
            Claim.partner_id == partner_id,
            Claim.status == ClaimStatus.APPROVED.value,
            Claim.invoice_date >= start,
            Claim.invoice_date <= end,
        )
    )
    if skus is not None:
        query = query.where(ClaimLine.sku.in_(sorted(skus)))
    return int(session.scalar(query) or 0)


def review_eta(claim: Claim) -> Text | None:
    """When a pending claim is usually answered, in both languages (None otherwise)."""
    if claim.status == ClaimStatus.SUBMITTED.value:
        return ETA_REVIEW
    if claim.status != ClaimStatus.PENDING_REVIEW.value:
        return None
    if any(r.get("code") == "not_in_erp" for r in claim.reasons):
        return ETA_ERP
    return ETA_REVIEW


# --- reasons (what the partner reads) ------------------------------------------------------

_REASONS: dict[str, Text] = {
    "not_in_erp": {
        "id": "Nota ini belum ada di data distributor. Biasanya masuk dalam 1-2 hari kerja; "
        "klaim Anda akan diperiksa lagi otomatis.",
        "en": "This invoice is not in the distributor's data yet. It usually arrives within "
        "1-2 working days; your claim will be checked again automatically.",
    },
    "display_review": {
        "id": "Foto display diperiksa oleh tim kami.",
        "en": "Our team checks display photos by hand.",
    },
    "manual_review": {
        "id": "Klaim ini perlu diperiksa oleh tim kami.",
        "en": "Our team needs to check this claim by hand.",
    },
    "no_customer_code": {
        "id": "Toko Anda belum terhubung dengan kode pelanggan distributor; tim kami "
        "memeriksa klaim ini.",
        "en": "Your shop is not linked to a distributor customer code yet; our team checks "
        "this claim.",
    },
    "partner_inactive": {
        "id": "Akun Anda sedang tidak aktif; tim kami memeriksa klaim ini.",
        "en": "Your account is not active at the moment; our team checks this claim.",
    },
    "being_checked": {
        "id": "Klaim Anda sedang diperiksa.",
        "en": "Your claim is being checked.",
    },
    "other_customer": {
        "id": "Nota ini tercatat atas nama toko lain, bukan toko Anda. Hanya nota pembelian "
        "toko Anda sendiri yang bisa diklaim.",
        "en": "This invoice is recorded for another shop, not yours. Only invoices of your "
        "own shop's purchases can be claimed.",
    },
    "duplicate_photo": {
        "id": "Foto ini sudah pernah dipakai untuk klaim lain. Kirim foto nota yang baru.",
        "en": "This photo was already used for another claim. Please send a new photo of "
        "the invoice.",
    },
}


def _reason(code: str, description: Text | None = None) -> dict[str, Any]:
    return {"code": code, "description": dict(description or _REASONS[code])}


def _refusal_reason(signal: fraud.Signal) -> dict[str, Any]:
    return _reason(signal.code if signal.code in _REASONS else "manual_review")


def _mismatch_reason(
    check: LineCheck, products: Mapping[str, catalogue.ProductView], invoice_no: str
) -> dict[str, Any]:
    product = products.get(check.sku)
    name = product.name if product else check.sku
    unit = product.unit if product else ""
    if check.match is LineMatch.QUANTITY_ABOVE:
        return _reason(
            "quantity_above_invoice",
            {
                "id": f"Jumlah {name} di klaim ({check.quantity} {unit}) lebih banyak dari di "
                f"nota {invoice_no} ({check.erp_quantity} {unit}).",
                "en": f"The claim has more {name} ({check.quantity} {unit}) than invoice "
                f"{invoice_no} ({check.erp_quantity} {unit}).",
            },
        )
    if check.match is LineMatch.NOT_ON_INVOICE:
        return _reason(
            "sku_not_on_invoice",
            {
                "id": f"{name} tidak ada di nota {invoice_no}.",
                "en": f"{name} is not on invoice {invoice_no}.",
            },
        )
    return _reason("other_customer")


def _reviewer_reason(reason: str) -> dict[str, Any]:
    return _reason(
        "rejected_by_reviewer",
        {
            "id": f"Ditolak oleh tim kami: {reason}" if reason else "Ditolak oleh tim kami.",
            "en": f"Rejected by our team: {reason}" if reason else "Rejected by our team.",
        },
    )


def partner_reasons(claim: Claim) -> list[dict[str, Any]]:
    """Reasons as the partner sees them (a claim still being judged says so)."""
    if claim.status == ClaimStatus.SUBMITTED.value:
        return [_reason("being_checked")]
    return list(claim.reasons)
