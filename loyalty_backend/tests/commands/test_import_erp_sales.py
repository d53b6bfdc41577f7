from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.commands import import_erp_sales
from app.commands.load_content import load_content
from app.core.db import make_session_factory
from app.services import erp
from tests.conftest import TestDB

CSV = """invoice_no,invoice_date,customer_code,sku,quantity,unit_price,seller
INV/SJ/2611/0201,2026-11-20,CUST-0001,KSGA-24,10,125000,PT Sentosa Niaga Jaya
INV/SJ/2611/0201,2026-11-20,CUST-0001,TML-48,5,96000,PT Sentosa Niaga Jaya
inv-sj-2611-0201,2026-11-20,CUST-0001,KSGA-24,10,125000,PT Sentosa Niaga Jaya

INV/SJ/2611/0202,20/11/2026,CUST-0001,KSGA-24,10,125000,
INV/SJ/2611/0203,2026-11-21,CUST-0002,KOPI,3,125000,
INV/SJ/2611/0204,2026-11-21,CUST-0002,KHT-24,-2,118000,
INV/SJ/2611/0205,2026-11-21,,KHT-24,2,118000
INV/SJ/2611/0206,2026-11-21,CUST-0003,SCK-12,4,168000,CV Maju
"""


@pytest.fixture
def importing(db: TestDB, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    load_content(session)
    monkeypatch.setattr("app.core.db.get_session_factory", lambda: make_session_factory(db.engine))


def test_import_reports_each_row(
    importing: None, session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sales.csv"
    path.write_text(CSV, encoding="utf-8")
    assert import_erp_sales.main([str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"{path}: row 6: invoice_date must be an ISO date (YYYY-MM-DD)",
        f"{path}: row 7: unknown sku KOPI",
        f"{path}: row 8: quantity must be between 1 and 1000000",
        f"{path}: row 9: customer_code is required",
    ]
    assert captured.out.strip() == f"{path}: 3 accepted, 1 duplicates, 4 rejected"
    lines = erp.sales_lines_for_invoice(session, "INV/SJ/2611/0201")
    assert [(x.sku, x.quantity, x.source) for x in lines] == [
        ("KSGA-24", 10, "csv:sales.csv"),
        ("TML-48", 5, "csv:sales.csv"),
    ]
    assert erp.sales_lines_for_invoice(session, "INV/SJ/2611/0206")[0].seller == "CV Maju"

    # Running it again changes nothing: everything good is now a duplicate.
    assert import_erp_sales.main([str(path)]) == 1
    assert capsys.readouterr().out.strip() == f"{path}: 0 accepted, 4 duplicates, 4 rejected"


def test_semicolons_bom_and_column_order(importing: None, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "dms.csv"
    path.write_text(
        "\ufeffSKU;Quantity;Invoice_No;Invoice_Date;Customer_Code;Unit_Price;Extra\n"
        "AMN-24;20;INV/MB/1;2026-11-01;CUST-0002;42000;ignored\n",
        encoding="utf-8",
    )
    report = import_erp_sales.import_file(session, path)
    assert (report.accepted, report.duplicates, report.rejected) == (1, 0, ())


def test_a_file_without_the_columns_is_refused(
    importing: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("invoice,date\nx,y\n", encoding="utf-8")
    assert import_erp_sales.main([str(path)]) == 2
    assert "row 1: missing column(s): invoice_no, invoice_date" in capsys.readouterr().err
    assert import_erp_sales.main([str(tmp_path / "missing.csv")]) == 2
