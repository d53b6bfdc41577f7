"""Fraud signals: what a claim looks like next to every other claim, recorded on the claim.

Each signal has a ``code``, a ``severity`` and a description in both languages for the
reviewer. What a severity does to the claim (app/services/claims.py):

- ``duplicate_invoice`` (refuse): the normalised invoice number is in another claim that
  is not rejected, by anyone. Refused at submission (409); the partial unique index on
  ``claim`` settles races. Invoice layouts are templates, so this, not the photo, is the
  duplicate key.
- ``duplicate_photo`` (refuse): the very same file (SHA-256) is in an earlier claim that is
  not rejected. Refused at submission (409), rejected if two submissions raced.
- ``near_duplicate_photo`` (review): the photo's perceptual hash is within 6 bits of one in
  an earlier claim. Two invoices of one distributor look alike, so a perceptual hash
  alone never refuses: a person looks.
- ``velocity`` (review): more than CLAIM_VELOCITY_PER_HOUR claims by the partner in the hour
  up to this claim, or more than CLAIM_VELOCITY_PER_DAY in the day.
- ``other_customer`` (refuse): the ERP records the invoice for another customer code; the
  claim is rejected with a reason the partner understands.
- ``unusual_quantity`` (review): a line above CLAIM_QUANTITY_REVIEW_LIMIT, or above
  CLAIM_QUANTITY_HISTORY_FACTOR times the partner's median for that SKU over at least 3
  earlier approved lines.

Signals are computed relative to the claim's own ``created_at`` and id (only earlier
claims count), so judging a claim again later gives the same signals.
"""

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import settings
from app.models import Claim, ClaimImage, ClaimLine, ERPSalesLine, Partner
from app.models.claim import ClaimStatus
from app.services import claim_images

HISTORY_MIN_LINES = 3


class Severity(StrEnum):
    REFUSE = "refuse"  # the claim is refused (409) or rejected
    REVIEW = "review"  # a person decides
    INFO = "info"  # recorded only


@dataclass(frozen=True)
class Signal:
    code: str
    severity: Severity
    description: dict[str, str]  # {"id": ..., "en": ...}, for the reviewer
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


def needs_review(signals: Sequence[dict[str, Any]]) -> bool:
    """True if stored signals (``Claim.signals``) ask for a person."""
    return any(s.get("severity") == Severity.REVIEW for s in signals)


# --- submission-time checks ------------------------------------------------------------


def duplicate_invoice(session: Session, invoice_no_normalised: str) -> Claim | None:
    """The claim (not rejected) that already holds this invoice number, if any."""
    return session.scalars(
        select(Claim).where(
            Claim.invoice_no_normalised == invoice_no_normalised,
            Claim.status != ClaimStatus.REJECTED.value,
        )
    ).first()


def duplicate_photo(session: Session, image_id: str) -> Claim | None:
    """The claim (not rejected) that already uses this exact file, if any."""
    return session.scalars(
        select(Claim)
        .where(Claim.image_id == image_id, Claim.status != ClaimStatus.REJECTED.value)
        .order_by(Claim.id)
    ).first()


# --- judging-time assessment -----------------------------------------------------------


def assess(
    session: Session,
    claim: Claim,
    partner: Partner,
    erp_lines: Sequence[ERPSalesLine] | None,
) -> list[Signal]:
    """Every signal for ``claim`` (judged against earlier claims only)."""
    signals: list[Signal] = []
    if claim.image_id is not None:
        signals.extend(_photo_signals(session, claim))
    signals.extend(_velocity(session, claim))
    if erp_lines:
        signal = _other_customer(partner, erp_lines)
        if signal:
            signals.append(signal)
    signals.extend(_unusual_quantities(session, claim))
    return signals


def _photo_signals(session: Session, claim: Claim) -> list[Signal]:
    assert claim.image_id is not None
    earlier = session.scalars(
        select(Claim.claim_no).where(
            Claim.image_id == claim.image_id,
            Claim.id < claim.id,
            Claim.status != ClaimStatus.REJECTED.value,
        )
    ).first()
    if earlier:
        return [
            Signal(
                "duplicate_photo",
                Severity.REFUSE,
                {
                    "id": f"Foto yang sama persis sudah dipakai di klaim {earlier}.",
                    "en": f"The very same photo was already used in claim {earlier}.",
                },
                {"claim_no": earlier},
            )
        ]
    image = session.get(ClaimImage, claim.image_id)
    if image is None:
        return []
    near = claim_images.near_duplicates(session, image, exclude_claim_id=claim.id)
    if not near:
        return []
    closest = near[0]
    return [
        Signal(
            "near_duplicate_photo",
            Severity.REVIEW,
            {
                "id": f"Foto sangat mirip dengan foto klaim {closest.claim_no} "
                f"(beda {closest.distance} dari 64 bit). Nota dari satu distributor memang "
                "mirip; periksa nomor dan isinya.",
                "en": f"The photo looks almost the same as the one of claim "
                f"{closest.claim_no} ({closest.distance} of 64 bits differ). One "
                "distributor's invoices look alike; check the number and the lines.",
            },
            {"matches": [{"claim_no": d.claim_no, "distance": d.distance} for d in near[:5]]},
        )
    ]


def _velocity(session: Session, claim: Claim) -> list[Signal]:
    def count(window: timedelta) -> int:
        return (
            session.scalar(
                select(func.count())
                .select_from(Claim)
                .where(
                    Claim.partner_id == claim.partner_id,
                    Claim.id <= claim.id,
                    Claim.created_at > claim.created_at - window,
                    Claim.created_at <= claim.created_at,
                )
            )
            or 0
        )

    for window, limit, label_id, label_en in (
        (timedelta(hours=1), settings.CLAIM_VELOCITY_PER_HOUR, "satu jam", "one hour"),
        (timedelta(days=1), settings.CLAIM_VELOCITY_PER_DAY, "satu hari", "one day"),
    ):
        n = count(window)
        if n > limit:
            return [
                Signal(
                    "velocity",
                    Severity.REVIEW,
                    {
                        "id": f"{n} klaim dari mitra ini dalam {label_id} (batas {limit}).",
                        "en": f"{n} claims by this partner within {label_en} (limit {limit}).",
                    },
                    {
                        "claims": n,
                        "limit": limit,
                        "window_hours": int(window.total_seconds()) // 3600,
                    },
                )
            ]
    return []


def _other_customer(partner: Partner, erp_lines: Sequence[ERPSalesLine]) -> Signal | None:
    codes = sorted({line.customer_code for line in erp_lines})
    own = partner.erp_customer_code
    if own is None or codes == [own]:
        return None
    return Signal(
        "other_customer",
        Severity.REFUSE,
        {
            "id": f"Menurut data distributor, nota ini untuk pelanggan {', '.join(codes)}, "
            f"bukan kode mitra ini ({own}).",
            "en": f"The distributor's data records this invoice for customer "
            f"{', '.join(codes)}, not this partner's code ({own}).",
        },
        {"invoice_customer_codes": codes, "partner_customer_code": own},
    )


def _unusual_quantities(session: Session, claim: Claim) -> list[Signal]:
    signals: list[Signal] = []
    limit = settings.CLAIM_QUANTITY_REVIEW_LIMIT
    factor = settings.CLAIM_QUANTITY_HISTORY_FACTOR
    for line in claim.lines:
        if line.quantity > limit:
            signals.append(
                Signal(
                    "unusual_quantity",
                    Severity.REVIEW,
                    {
                        "id": f"{line.sku}: {line.quantity} di atas batas {limit} per baris.",
                        "en": f"{line.sku}: {line.quantity} is above the limit of {limit} "
                        "per line.",
                    },
                    {"sku": line.sku, "quantity": line.quantity, "limit": limit},
                )
            )
            continue
        past = _past_quantities(session, claim, line.sku)
        if len(past) < HISTORY_MIN_LINES:
            continue
        median = statistics.median(past)
        if line.quantity > factor * median:
            signals.append(
                Signal(
                    "unusual_quantity",
                    Severity.REVIEW,
                    {
                        "id": f"{line.sku}: {line.quantity}, lebih dari {factor}x median "
                        f"mitra ini ({median:g}, dari {len(past)} klaim sebelumnya).",
                        "en": f"{line.sku}: {line.quantity}, more than {factor}x this "
                        f"partner's median ({median:g}, over {len(past)} earlier claims).",
                    },
                    {
                        "sku": line.sku,
                        "quantity": line.quantity,
                        "median": median,
                        "history_lines": len(past),
                    },
                )
            )
    return signals


def _past_quantities(session: Session, claim: Claim, sku: str) -> list[int]:
    return list(
        session.scalars(
            select(ClaimLine.quantity)
            .join(Claim, Claim.id == ClaimLine.claim_id)
            .where(
                Claim.partner_id == claim.partner_id,
                Claim.id < claim.id,
                Claim.status == ClaimStatus.APPROVED.value,
                ClaimLine.sku == sku,
            )
            .order_by(Claim.id.desc())
            .limit(100)
        )
    )
