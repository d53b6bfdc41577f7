from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.models import Claim, Partner
from app.schemas.common import IdempotencyKey, UTCDatetime
from app.services import claims
from app.services.catalogue import ProductView

ImageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=32)
]
InvoiceNo = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Bilingual(BaseModel):
    id: str
    en: str


class ClaimLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: int = Field(gt=0, le=claims.MAX_QUANTITY, strict=True)


class ClaimIn(BaseModel):
    """A partner's claim. A sales claim needs ``invoice_no`` and lines; a display claim a
    photo (``image_id`` from ``POST /claim-images``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sales", "display"]
    invoice_no: InvoiceNo | None = None
    invoice_date: date | None = Field(default=None, ge=date(2000, 1, 1), le=date(2100, 12, 31))
    lines: list[ClaimLineIn] = Field(default_factory=list, max_length=claims.MAX_LINES)
    image_id: ImageId | None = None
    idempotency_key: IdempotencyKey

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "sales" and (not self.invoice_no or not self.lines):
            raise ValueError("a sales claim needs invoice_no and at least one line")
        if self.kind == "display" and self.image_id is None:
            raise ValueError("a display claim needs image_id (a photo)")
        return self


class ClaimLineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit: str


class RuleOut(BaseModel):
    rule: str
    points: int
    description: Bilingual


class ReasonOut(BaseModel):
    code: str
    description: Bilingual


class ClaimOut(BaseModel):
    """A claim as the partner sees it. ``submitted`` (stored, judging delayed) shows as
    ``pending_review`` with the reason ``being_checked``."""

    claim_no: str
    kind: Literal["sales", "display"]
    status: Literal["approved", "pending_review", "rejected"]
    invoice_no: str | None
    invoice_date: date | None
    points: int
    lines: list[ClaimLineOut]
    rules: list[RuleOut]
    reasons: list[ReasonOut]
    review_eta: Bilingual | None
    created_at: UTCDatetime

    @classmethod
    def from_claim(cls, claim: Claim, products: Mapping[str, ProductView]) -> Self:
        status = "pending_review" if claim.status == "submitted" else claim.status
        return cls(
            claim_no=claim.claim_no or "",
            kind=claim.kind,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            invoice_no=claim.invoice_no,
            invoice_date=claim.invoice_date,
            points=claim.points,
            lines=[_line_out(line.sku, line.quantity, products) for line in claim.lines],
            rules=[RuleOut.model_validate(rule) for rule in claim.rules],
            reasons=[ReasonOut.model_validate(r) for r in claims.partner_reasons(claim)],
            review_eta=claims.review_eta(claim),  # type: ignore[arg-type]
            created_at=claim.created_at,
        )


def _line_out(sku: str, quantity: int, products: Mapping[str, ProductView]) -> ClaimLineOut:
    product = products.get(sku)
    return ClaimLineOut(
        sku=sku,
        name=product.name if product else sku,
        quantity=quantity,
        unit=product.unit if product else "",
    )


class ClaimListOut(BaseModel):
    items: list[ClaimOut]


class ClaimImageOut(BaseModel):
    image_id: str


# --- review (admin) -----------------------------------------------------------------------


class SignalOut(BaseModel):
    code: str
    severity: Literal["refuse", "review", "info"]
    description: Bilingual
    details: dict[str, Any] = {}


class LineCheckOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit: str
    erp_quantity: int | None = Field(description="Recorded on the invoice in the ERP data now")
    match: str = Field(
        description="matched, quantity_above, not_on_invoice, other_customer, no_erp_data "
        "or unchecked (display claims)"
    )


class ClaimPartnerOut(BaseModel):
    wa_id: str
    name: str
    shop_name: str | None
    erp_customer_code: str | None


class ReviewClaimOut(BaseModel):
    """A claim as a reviewer sees it: the real status, signals, photo link, ERP match."""

    claim_no: str
    kind: str
    status: Literal["submitted", "approved", "pending_review", "rejected"]
    partner: ClaimPartnerOut
    invoice_no: str | None
    invoice_no_normalised: str | None
    invoice_date: date | None
    points: int
    lines: list[LineCheckOut]
    rules: list[RuleOut]
    reasons: list[ReasonOut]
    signals: list[SignalOut]
    image_url: str | None
    created_at: UTCDatetime
    judged_at: UTCDatetime | None
    decided_by: str | None
    decision_reason: str | None

    @classmethod
    def build(
        cls,
        claim: Claim,
        partner: Partner,
        checks: list[claims.LineCheck],
        products: Mapping[str, ProductView],
        api_prefix: str,
    ) -> Self:
        return cls(
            claim_no=claim.claim_no or "",
            kind=claim.kind,
            status=claim.status,  # type: ignore[arg-type]
            partner=ClaimPartnerOut(
                wa_id=partner.wa_id,
                name=partner.name,
                shop_name=partner.shop_name,
                erp_customer_code=partner.erp_customer_code,
            ),
            invoice_no=claim.invoice_no,
            invoice_no_normalised=claim.invoice_no_normalised,
            invoice_date=claim.invoice_date,
            points=claim.points,
            lines=[
                LineCheckOut(
                    **_line_out(c.sku, c.quantity, products).model_dump(),
                    erp_quantity=c.erp_quantity,
                    match=c.match.value,
                )
                for c in checks
            ],
            rules=[RuleOut.model_validate(rule) for rule in claim.rules],
            reasons=[ReasonOut.model_validate(r) for r in claim.reasons],
            signals=[SignalOut.model_validate(s) for s in claim.signals],
            image_url=(
                f"{api_prefix}/admin/claims/{claim.claim_no}/image" if claim.image_id else None
            ),
            created_at=claim.created_at,
            judged_at=claim.judged_at,
            decided_by=claim.decided_by,
            decision_reason=claim.decision_reason,
        )


class ReviewClaimListOut(BaseModel):
    items: list[ReviewClaimOut]
    total: int
    limit: int
    offset: int


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""

    @model_validator(mode="after")
    def _reject_says_why(self) -> Self:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason the partner can read")
        return self
