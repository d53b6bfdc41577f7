"""``python -m app.commands.import_vouchers``: row-level report, duplicates, exit status."""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands import import_vouchers
from app.core.clock import wib_end_of_day
from app.core.db import make_session_factory
from app.models import VoucherCode
from tests.conftest import TestDB
from tests.rewards_utils import make_reward

EXPIRES = "2099-06-30"


@pytest.fixture
def importing(db: TestDB, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    make_reward(session, "TEST-VCR", "voucher", 100)
    make_reward(session, "TEST-KAOS", "merchandise", 100)
    monkeypatch.setattr("app.core.db.get_session_factory", lambda: make_session_factory(db.engine))


def _codes(session: Session) -> list[str]:
    session.commit()
    return list(session.scalars(select(VoucherCode.code).order_by(VoucherCode.id)))


def test_one_code_per_line(
    importing: None, session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "codes.txt"
    path.write_text("AAAA-0001\nAAAA-0002\n\nAAAA-0001\nbad code\nAAAA-0003\n", encoding="utf-8")
    assert import_vouchers.main(["TEST-VCR", str(path), "--expires-at", EXPIRES]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"{path}: row 5: {import_vouchers.vouchers.CODE_RULE}"]
    assert f"{path}: 3 added, 1 duplicates, 1 rejected" in captured.out
    assert _codes(session) == ["AAAA-0001", "AAAA-0002", "AAAA-0003"]
    session.commit()
    expiry = session.scalar(select(VoucherCode.expires_at).limit(1))
    assert expiry == wib_end_of_day(date(2099, 6, 30))
    # The same file again: all duplicates (and the same bad row).
    assert import_vouchers.main(["TEST-VCR", str(path), "--expires-at", EXPIRES]) == 1
    assert "0 added, 4 duplicates, 1 rejected" in capsys.readouterr().out


def test_a_csv_with_a_code_column(
    importing: None, session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "codes.csv"
    path.write_text(
        "\ufeffbatch;Code;value\nB1;CSV-0001;50000\nB1;CSV-0002;50000\nB1;;50000\n",
        encoding="utf-8",
    )
    assert import_vouchers.main(["test-vcr", str(path), "--expires-at", EXPIRES]) == 1
    assert capsys.readouterr().err.startswith(f"{path}: row 4: empty")
    assert _codes(session) == ["CSV-0001", "CSV-0002"]


def test_whole_file_refusals_exit_2(
    importing: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "codes.txt"
    path.write_text("CODE-0001\n", encoding="utf-8")
    assert import_vouchers.main(["NOPE", str(path), "--expires-at", EXPIRES]) == 2
    assert "reward not found" in capsys.readouterr().err
    assert import_vouchers.main(["TEST-KAOS", str(path), "--expires-at", EXPIRES]) == 2
    assert "not a voucher reward" in capsys.readouterr().err
    assert import_vouchers.main(["TEST-VCR", str(path), "--expires-at", "2001-01-01"]) == 2
    assert "future" in capsys.readouterr().err
    assert (
        import_vouchers.main(["TEST-VCR", str(tmp_path / "none.txt"), "--expires-at", EXPIRES]) == 2
    )
    with pytest.raises(SystemExit):
        import_vouchers.main(["TEST-VCR", str(path), "--expires-at", "30/06/2099"])
