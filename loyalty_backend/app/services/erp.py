"""ERP sales lines: what distributors really sold to whom, the evidence claims are judged on.

The key of a line is (normalised invoice number, SKU). Pushing the same line again, by
API or CSV, is a *duplicate* and changes nothing; a line with that key but other values
(quantity, date, customer) is *rejected*: a recorded sale is never silently rewritten,
corrections are a back-office matter.

``ingest`` is bulk: one query for the keys already recorded, one multi-row INSERT with ON
CONFLICT DO NOTHING (SQLite and PostgreSQL both have it), so two pushes of the same lines
racing each other both answer 200 and the database keeps one copy. After it commits,
claims waiting for these invoices are judged again (``_rejudge_pending``).
"""

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import in_write_transaction, write_transaction
from app.models import ERPSalesLine, Product

log = logging.getLogger("app.services.erp")

MAX_LINES_PER_CALL = 5000
MAX_QUANTITY = 1_000_000
MAX_UNIT_PRICE = Decimal("999999999999.99")  # Numeric(14, 2)
# Existing keys are looked up in chunks, well under every driver's parameter limit.
_LOOKUP_CHUNK = 400

# "NO.", "NO:", "NO ", "NOMOR", "NOMER", "NR.", "#" before the number itself.
_PREFIX = re.compile(r"^(?:(?:NOMOR|NOMER|NO|NR)\s*[.:#]\s*|(?:NOMOR|NOMER|NO|NR)\s+|#\s*)")
_SEPARATORS = re.compile(r"[\s/\\\-._]+")


def normalise_invoice_no(raw: str) -> str:
    """The invoice number as the duplicate key everywhere (ERP, claims, fraud checks).

    Upper case; surrounding blanks dropped; a leading "No.", "No:", "Nomor", "NR." or "#"
    dropped (what people type before the number, never part of it); every run of
    separators - slash, backslash, hyphen, dot, underscore, spaces - becomes one "/", and
    none is left at either end. Digits are kept as they are (leading zeros too: "00123"
    and "123" stay different numbers). So "inv/dn/2611/00123 ", "INV-DN-2611-00123",
    "No. INV DN 2611 00123" and "INV_DN.2611 / 00123" are all "INV/DN/2611/00123".
    """
    text = raw.strip().upper()
    text = _PREFIX.sub("", text, count=1)
    return _SEPARATORS.sub("/", text).strip("/")


@dataclass(frozen=True)
class Rejected:
    index: int  # position in the request (0-based); the CSV import reports row numbers
    reason: str


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    rejected: tuple[Rejected, ...]
    invoice_nos: tuple[str, ...]  # normalised numbers that got new lines, sorted


@dataclass(frozen=True)
class _Line:
    index: int
    invoice_no: str
    invoice_no_normalised: str
    invoice_date: date
    customer_code: str
    sku: str
    quantity: int
    unit_price: Decimal
    seller: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.invoice_no_normalised, self.sku)

    def same_sale(self, date_: date, customer: str, quantity: int) -> bool:
        return (self.invoice_date, self.customer_code, self.quantity) == (
            date_,
            customer,
            quantity,
        )


class _Invalid(ValueError):
    pass


def _text(line: Mapping[str, Any], name: str, max_length: int, *, required: bool = True) -> str:
    value = line.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Invalid(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string")
    value = value.strip()
    if len(value) > max_length:
        raise _Invalid(f"{name} is longer than {max_length} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _Invalid(f"{name} must not contain control characters")
    return value


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise _Invalid("invoice_date must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise _Invalid("invoice_date must be an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid("invoice_date is not a real date") from None


def _quantity(value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid("quantity must be a whole number")
    if not 0 < value <= MAX_QUANTITY:
        raise _Invalid(f"quantity must be between 1 and {MAX_QUANTITY}")
    return value


def _price(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise _Invalid("unit_price is required (rupiah)")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise _Invalid("unit_price must be a number (rupiah)") from None
    if not price.is_finite() or price < 0 or price > MAX_UNIT_PRICE:
        raise _Invalid("unit_price must be a number from 0 (rupiah)")
    if price != price.quantize(Decimal("0.01")):
        raise _Invalid("unit_price has more than 2 decimals")
    return price.quantize(Decimal("0.01"))


def _parse(index: int, line: Any, known_skus: set[str]) -> _Line:
    if not isinstance(line, Mapping):
        raise _Invalid("a line must be an object")
    invoice_no = _text(line, "invoice_no", 64)
    normalised = normalise_invoice_no(invoice_no)
    if not normalised:
        raise _Invalid("invoice_no has no letters or digits")
    sku = _text(line, "sku", 32).upper()
    if sku not in known_skus:
        raise _Invalid(f"unknown sku {sku}")
    return _Line(
        index=index,
        invoice_no=invoice_no,
        invoice_no_normalised=normalised,
        invoice_date=_date(line.get("invoice_date")),
        customer_code=_text(line, "customer_code", 32),
        sku=sku,
        quantity=_quantity(line.get("quantity")),
        unit_price=_price(line.get("unit_price")),
        seller=_text(line, "seller", 120, required=False) or None,
    )


def _insert(session: Session):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(ERPSalesLine).on_conflict_do_nothing(
        index_elements=["invoice_no_normalised", "sku"]
    )


def ingest(
    session: Session,
    lines: Sequence[Mapping[str, Any]],
    source: str,
    *,
    now: datetime | None = None,
    rejudge: bool = True,
) -> IngestResult:
    """Record sales lines; each is accepted, a duplicate, or rejected with its index and why.

    Valid lines need ``invoice_no``, ``invoice_date`` (YYYY-MM-DD), ``customer_code``, a
    catalogue ``sku``, a whole ``quantity`` > 0 and ``unit_price`` (rupiah, >= 0);
    ``seller`` is optional. Commits; then, when lines were accepted and ``rejudge``, asks
    the claims service to judge again the claims waiting for those invoices.
    """
    now = now or utcnow()
    known_skus = set(session.scalars(select(Product.sku)))
    rejected: list[Rejected] = []
    parsed: list[_Line] = []
    for index, raw in enumerate(lines):
        try:
            parsed.append(_parse(index, raw, known_skus))
        except _Invalid as exc:
            rejected.append(Rejected(index, str(exc)))

    duplicates = 0
    fresh: dict[tuple[str, str], _Line] = {}
    with write_transaction(session):
        recorded = _recorded(session, {line.key for line in parsed})
        for line in parsed:
            seen = fresh.get(line.key)
            existing = recorded.get(line.key)
            if seen is not None:
                existing = (seen.invoice_date, seen.customer_code, seen.quantity)
            if existing is None:
                fresh[line.key] = line
            elif line.same_sale(*existing):
                duplicates += 1
            else:
                rejected.append(
                    Rejected(
                        line.index,
                        f"invoice {line.invoice_no_normalised} {line.sku} is already recorded "
                        f"with other values (date {existing[0]}, customer {existing[1]}, "
                        f"quantity {existing[2]}); recorded lines are not changed",
                    )
                )
        inserted: set[tuple[str, str]] = set()
        if fresh:
            rows = [
                {
                    "invoice_no": line.invoice_no,
                    "invoice_no_normalised": line.invoice_no_normalised,
                    "invoice_date": line.invoice_date,
                    "customer_code": line.customer_code,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "seller": line.seller,
                    "source": source[:64],
                    "received_at": now,
                }
                for line in fresh.values()
            ]
            statement = _insert(session).returning(
                ERPSalesLine.invoice_no_normalised, ERPSalesLine.sku
            )
            # Core, not the ORM's bulk insert: RETURNING gives exactly the rows written.
            result = session.connection().execute(statement, rows)
            inserted = {(row[0], row[1]) for row in result}
        # A key another request inserted meanwhile: that push won, this one is a duplicate.
        duplicates += len(fresh) - len(inserted)
    invoice_nos = tuple(sorted({key[0] for key in inserted}))
    rejected.sort(key=lambda r: r.index)
    result_ = IngestResult(len(inserted), duplicates, tuple(rejected), invoice_nos)
    log.info(
        "erp lines ingested",
        extra={
            "source": source,
            "accepted": result_.accepted,
            "duplicates": duplicates,
            "rejected": len(rejected),
        },
    )
    if rejudge and invoice_nos:
        _rejudge_pending(session, list(invoice_nos))
    return result_


def _recorded(
    session: Session, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[date, str, int]]:
    """(invoice, sku) -> (date, customer, quantity) of the lines already recorded.

    Looked up by invoice number alone (a plain IN on the unique index's leading column)
    and filtered to the asked keys here: PostgreSQL plans a row-value IN of hundreds of
    (invoice, sku) pairs as a sequential scan, which made each bulk push slower than the
    last as the table grew.
    """
    found: dict[tuple[str, str], tuple[date, str, int]] = {}
    invoices = sorted({invoice for invoice, _ in keys})
    for start in range(0, len(invoices), _LOOKUP_CHUNK):
        chunk = invoices[start : start + _LOOKUP_CHUNK]
        rows = session.execute(
            select(
                ERPSalesLine.invoice_no_normalised,
                ERPSalesLine.sku,
                ERPSalesLine.invoice_date,
                ERPSalesLine.customer_code,
                ERPSalesLine.quantity,
            ).where(ERPSalesLine.invoice_no_normalised.in_(chunk))
        )
        for invoice, sku, day, customer, quantity in rows:
            if (invoice, sku) in keys:
                found[(invoice, sku)] = (day, customer, quantity)
    return found


def _rejudge_pending(session: Session, invoice_nos: list[str]) -> None:
    """Ask the claims service to judge again the claims that waited for these invoices.

    Imported lazily: the claims service imports this module (for the normalised number
    and the lines of an invoice). The lines are committed before this runs, so a failure
    here is logged and left to the claims service's own re-judging of waiting claims
    (at startup and by the jobs); it never undoes or fails the ingest.
    """
    try:
        from app.services import claims  # here: claims imports erp
    except ImportError:  # pragma: no cover - the claims service is always there
        return
    rejudge = getattr(claims, "rejudge_pending_for_invoices", None)
    if rejudge is None:
        return
    try:
        rejudge(session, invoice_nos)
    except Exception:
        if in_write_transaction(session):
            raise  # inside the caller's transaction (the seed, a test): theirs to roll back
        session.rollback()
        log.exception(
            "re-judging claims after an ERP ingest failed", extra={"invoices": len(invoice_nos)}
        )


def sales_lines_for_invoice(session: Session, invoice_no_normalised: str) -> list[ERPSalesLine]:
    """The recorded lines of one invoice, by SKU (the number is normalised again: harmless)."""
    key = normalise_invoice_no(invoice_no_normalised)
    return list(
        session.scalars(
            select(ERPSalesLine)
            .where(ERPSalesLine.invoice_no_normalised == key)
            .order_by(ERPSalesLine.sku)
        )
    )
