import sys
import threading
import time
import types
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import app.services as services
from app.commands.load_content import load_content
from app.core.db import make_session_factory
from app.models import ERPSalesLine
from app.services import erp
from tests.conftest import TestDB


@pytest.fixture
def products(session: Session) -> None:
    load_content(session)


def line(**overrides: object) -> dict:
    values: dict = {
        "invoice_no": "INV/DN/2611/00123",
        "invoice_date": "2026-11-26",
        "customer_code": "CUST-0001",
        "sku": "KSGA-24",
        "quantity": 10,
        "unit_price": 125000,
        "seller": "PT Distribusi Nusantara",
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    "raw",
    [
        "INV/DN/2611/00123",
        "inv/dn/2611/00123 ",
        "INV-DN-2611-00123",
        "INV DN 2611 00123",
        "INV.DN.2611.00123",
        "INV_DN_2611_00123",
        "INV / DN / 2611 / 00123",
        "INV\\DN\\2611\\00123",
        "No. INV/DN/2611/00123",
        "NO:INV-DN-2611-00123",
        "no inv dn 2611 00123",
        "Nomor: INV/DN/2611/00123",
        "#INV/DN/2611/00123",
        "/INV//DN--2611/00123/",
    ],
)
def test_normalise_invoice_no(raw: str) -> None:
    assert erp.normalise_invoice_no(raw) == "INV/DN/2611/00123"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("NOV/2611/001", "NOV/2611/001"),  # "NO" inside a word is not a prefix
        ("NOTA-77", "NOTA/77"),
        ("00123", "00123"),  # leading zeros are kept
        ("123", "123"),
        ("  ", ""),
        ("No.", ""),
    ],
)
def test_normalise_invoice_no_keeps_what_matters(raw: str, normal: str) -> None:
    assert erp.normalise_invoice_no(raw) == normal


def test_ingest_accepts_and_is_idempotent(session: Session, products: None) -> None:
    now = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    first = erp.ingest(session, [line(), line(sku="TML-48", quantity=5)], "api", now=now)
    assert (first.accepted, first.duplicates, first.rejected) == (2, 0, ())
    assert first.invoice_nos == ("INV/DN/2611/00123",)
    # the same lines again, the number spelled differently: duplicates, nothing changes
    again = erp.ingest(
        session, [line(invoice_no="inv-dn-2611-00123"), line(sku="tml-48", quantity=5)], "csv:x"
    )
    assert (again.accepted, again.duplicates, again.rejected) == (0, 2, ())
    assert again.invoice_nos == ()
    lines = erp.sales_lines_for_invoice(session, "INV/DN/2611/00123")
    assert [(x.sku, x.quantity, x.source) for x in lines] == [
        ("KSGA-24", 10, "api"),
        ("TML-48", 5, "api"),
    ]
    first_line = lines[0]
    assert first_line.invoice_no == "INV/DN/2611/00123"
    assert first_line.invoice_date == date(2026, 11, 26)
    assert first_line.unit_price == Decimal("125000.00")
    assert first_line.seller == "PT Distribusi Nusantara"
    assert first_line.received_at == now
    # any spelling finds them
    assert len(erp.sales_lines_for_invoice(session, "inv dn 2611 00123")) == 2
    assert erp.sales_lines_for_invoice(session, "INV/DN/2611/99999") == []


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"invoice_no": ""}, "invoice_no is required"),
        ({"invoice_no": None}, "invoice_no is required"),
        ({"invoice_no": "///"}, "invoice_no has no letters or digits"),
        ({"invoice_no": 123}, "invoice_no must be a string"),
        ({"invoice_no": "X" * 65}, "invoice_no is longer than 64 characters"),
        ({"invoice_date": "26/11/2026"}, "invoice_date must be an ISO date (YYYY-MM-DD)"),
        ({"invoice_date": "2026-02-30"}, "invoice_date is not a real date"),
        ({"invoice_date": None}, "invoice_date must be an ISO date (YYYY-MM-DD)"),
        ({"customer_code": " "}, "customer_code is required"),
        ({"sku": "NOPE-1"}, "unknown sku NOPE-1"),
        ({"sku": None}, "sku is required"),
        ({"quantity": 0}, "quantity must be between 1 and 1000000"),
        ({"quantity": -3}, "quantity must be between 1 and 1000000"),
        ({"quantity": 2.5}, "quantity must be a whole number"),
        ({"quantity": True}, "quantity must be a whole number"),
        ({"quantity": "ten"}, "quantity must be a whole number"),
        ({"unit_price": -1}, "unit_price must be a number from 0 (rupiah)"),
        ({"unit_price": "abc"}, "unit_price must be a number (rupiah)"),
        ({"unit_price": None}, "unit_price is required (rupiah)"),
        ({"unit_price": "1.005"}, "unit_price has more than 2 decimals"),
        ({"seller": "x\ny"}, "seller must not contain control characters"),
    ],
)
def test_each_bad_line_is_rejected_with_its_reason(
    session: Session, products: None, overrides: dict, reason: str
) -> None:
    result = erp.ingest(session, [line(sku="TML-48"), line(**overrides)], "api")
    assert result.accepted == 1
    assert [(r.index, r.reason) for r in result.rejected] == [(1, reason)]


def test_a_line_that_is_not_an_object(session: Session, products: None) -> None:
    result = erp.ingest(session, ["nope", line()], "api")  # type: ignore[list-item]
    assert result.accepted == 1 and result.rejected == (
        erp.Rejected(0, "a line must be an object"),
    )


def test_strings_from_a_csv_are_fine(session: Session, products: None) -> None:
    result = erp.ingest(session, [line(quantity="10", unit_price="125000.50", seller="")], "csv")
    assert result.accepted == 1
    stored = erp.sales_lines_for_invoice(session, "INV/DN/2611/00123")[0]
    assert (stored.quantity, stored.unit_price, stored.seller) == (10, Decimal("125000.50"), None)


def test_a_recorded_line_is_never_rewritten(session: Session, products: None) -> None:
    erp.ingest(session, [line()], "api")
    result = erp.ingest(session, [line(quantity=12), line(unit_price=1)], "api")
    # other quantity: rejected with what is recorded; only the price differs: duplicate
    assert result.duplicates == 1
    assert [(r.index, r.reason) for r in result.rejected] == [
        (
            0,
            "invoice INV/DN/2611/00123 KSGA-24 is already recorded with other values "
            "(date 2026-11-26, customer CUST-0001, quantity 10); recorded lines are not changed",
        )
    ]
    assert erp.sales_lines_for_invoice(session, "INV/DN/2611/00123")[0].quantity == 10


def test_repeats_inside_one_push(session: Session, products: None) -> None:
    result = erp.ingest(
        session, [line(), line(invoice_no="INV-DN-2611-00123"), line(quantity=3)], "api"
    )
    assert (result.accepted, result.duplicates) == (1, 1)
    assert [r.index for r in result.rejected] == [2]


def test_five_thousand_lines_in_one_call(session: Session, products: None) -> None:
    skus = ["KSGA-24", "KHT-24", "TML-48", "SCK-12", "KSLS-24"]
    lines = [
        line(invoice_no=f"INV/BULK/{n // 5:05d}", sku=skus[n % 5], customer_code=f"C{n % 97}")
        for n in range(5000)
    ]
    started = time.perf_counter()
    result = erp.ingest(session, lines, "api")
    took = time.perf_counter() - started
    assert (result.accepted, result.duplicates, result.rejected) == (5000, 0, ())
    assert len(result.invoice_nos) == 1000
    started = time.perf_counter()
    again = erp.ingest(session, lines, "api")
    assert (again.accepted, again.duplicates) == (0, 5000)
    assert took < 10 and time.perf_counter() - started < 10, took


def test_concurrent_pushes_of_the_same_lines_keep_one_copy(db: TestDB, products: None) -> None:
    """Both answer; the unique key decides (ON CONFLICT DO NOTHING), never a 500."""
    engine = db.new_engine(pool_size=8) if db.kind == "postgresql" else db.engine
    factory = make_session_factory(engine)
    lines = [line(invoice_no=f"INV/RACE/{n:03d}", sku=sku) for n in range(50)
             for sku in ("KSGA-24", "TML-48")]  # fmt: skip
    results: list[erp.IngestResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def push() -> None:
        try:
            with factory() as s:
                barrier.wait()
                results.append(erp.ingest(s, lines, "api"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.accepted for r in results) == 100
    assert all(r.accepted + r.duplicates == 100 and not r.rejected for r in results)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(ERPSalesLine)) == 100
    if engine is not db.engine:
        engine.dispose()


def test_ingest_asks_the_claims_service_to_judge_again(
    session: Session, products: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    fake = types.ModuleType("app.services.claims")
    fake.rejudge_pending_for_invoices = lambda s, nos: calls.append(nos) or len(nos)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.services.claims", fake)
    monkeypatch.setattr(services, "claims", fake, raising=False)
    erp.ingest(session, [line(), line(invoice_no="INV/B/1"), line(invoice_no="INV/A/1")], "api")
    assert calls == [["INV/A/1", "INV/B/1", "INV/DN/2611/00123"]]
    erp.ingest(session, [line()], "api")  # nothing new: nothing to judge
    erp.ingest(session, [line(invoice_no="INV/C/1")], "api", rejudge=False)
    assert len(calls) == 1

    # A failing re-judge is logged; the lines stay recorded.
    def boom(s: Session, nos: list[str]) -> int:
        raise RuntimeError("claims down")

    fake.rejudge_pending_for_invoices = boom  # type: ignore[attr-defined]
    result = erp.ingest(session, [line(invoice_no="INV/D/1")], "api")
    assert result.accepted == 1
    assert len(erp.sales_lines_for_invoice(session, "INV/D/1")) == 1
