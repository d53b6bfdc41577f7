"""Header fields from OCR-like rows: invoice number, date, customer code, seller."""

from datetime import date

import pytest

from app.ocr import fields


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("INV/DN/2611/00123", "INV/DN/2611/00123"),
        ("INV/DN/2611/00l23", "INV/DN/2611/00123"),
        ("lNV/DN/26I1/OO123", "INV/DN/2611/00123"),
        ("2607/5J/59423", "2607/SJ/59423"),
        ("2607/S)/59423", "2607/SJ/59423"),
        ("FKT-8B213", "FKT-88213"),
        ("FP-2O25-576633", "FP-2025-576633"),
        ("SO.26l1.0045", "SO.2611.0045"),
        ("INV / DN / 2611 / 00123", "INV/DN/2611/00123"),
    ],
)
def test_look_alike_characters_are_mended_by_position(raw: str, fixed: str) -> None:
    assert fields.repair_code(raw) == fixed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("26/11/2026", date(2026, 11, 26)),
        ("26-11-2026", date(2026, 11, 26)),
        ("26.11.2026", date(2026, 11, 26)),
        ("2026-11-26", date(2026, 11, 26)),
        ("26/11/26", date(2026, 11, 26)),
        ("26 Nov 2026", date(2026, 11, 26)),
        ("26 November 2026", date(2026, 11, 26)),
        ("05 Agu 2026", date(2026, 8, 5)),
        ("5 Agustus 2026", date(2026, 8, 5)),
        ("05 Agt 2026", date(2026, 8, 5)),
        ("12 Mei 2026", date(2026, 5, 12)),
        ("12 May 2026", date(2026, 5, 12)),
        ("3 Okt 2025", date(2025, 10, 3)),
        ("17 Des 2025", date(2025, 12, 17)),
        ("1 Nopember 2025", date(2025, 11, 1)),
        ("26/1l/2O26", date(2026, 11, 26)),  # OCR look-alikes
        ("26 Novernber 2026", date(2026, 11, 26)),  # a misread month name
    ],
)
def test_dates_in_every_printed_format_become_iso(text: str, expected: date) -> None:
    assert fields.parse_date(f"Tanggal : {text}") == expected


def test_no_date_is_none() -> None:
    assert fields.parse_date("Telp. 061-4521 889") is None
    assert fields.parse_date("31/02/2026") is None


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["No. Faktur : INV/DN/2611/00123"], "INV/DN/2611/00123"),
        (["No Faktur: FKT-88213   Kepada : Toko Sinar Jaya"], "FKT-88213"),
        (["No. Faktur : 2607/S)/59423 Customer : Rina Lestari"], "2607/SJ/59423"),
        (["No. Transaksi: FP-2025-576633 | Tgl Invoice: 29 Juni 2025"], "FP-2025-576633"),
        (["Invoice No : SO.2611.0457"], "SO.2611.0457"),
        (["Nomor Faktur  2611/SJ/00045"], "2611/SJ/00045"),
        (["FAKTUR PENJUALAN", "INV/DN/2611/00123   26/11/2026"], "INV/DN/2611/00123"),
        (["Kode Plg : CUST-0001", "No. Nota: FKT-10023"], "FKT-10023"),
    ],
)
def test_invoice_number_next_to_its_label_or_by_its_shape(rows: list[str], expected: str) -> None:
    assert fields.find_invoice_no(rows) == expected


def test_the_invoice_date_is_not_the_due_date() -> None:
    rows = [
        "Jatuh Tempo : 26 Des 2026 Kode Plg : CUST-0004",
        "No. Faktur : 2611/SJ/59423   Customer : Rina Lestari",
        "Tgl. Faktur : 26 Nov 2026",
    ]
    assert fields.find_invoice_date(rows) == date(2026, 11, 26)
    assert fields.find_invoice_date(["Jatuh Tempo 26/12/2026", "26/11/2026"]) == date(2026, 11, 26)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["Kode Plg : CUST-0001"], "CUST-0001"),
        (["Kepada Yth.: Minimarket Murah Meriah (CUST-1142)"], "CUST-1142"),
        (["Kd. Plg: CUST 0003"], "CUST-0003"),
        (["Kode Pelanggan : CUST-O0O5"], "CUST-0005"),
        (["ID Pelanggan : C-10023"], "C-10023"),
        (["Kepada : Toko Sinar Jaya"], None),
    ],
)
def test_customer_code(rows: list[str], expected: str | None) -> None:
    assert fields.find_customer_code(rows) == expected


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["PT DISTRIBUSI NUSANTARA", "Jl. Gatot Subroto No. 12, Medan"], "PT Distribusi Nusantara"),
        (["PT. Distribusi Nusantara   FAKTUR PENJUALAN"], "PT Distribusi Nusantara"),
        (["CV Sumber Rejeki Abadi", "Jl. Raya Darmo 45, Surabaya"], "CV Sumber Rejeki Abadi"),
        (["UD BERKAH JAYA", "Jl. Pemuda No. 88"], "UD Berkah Jaya"),
        # the buyer's company is not the seller
        (["FAKTUR PENJUALAN", "Kepada : CV Maju Bersama", "PT X"], None),
    ],
)
def test_seller_is_the_company_at_the_top(rows: list[str], expected: str | None) -> None:
    assert fields.find_seller(rows) == expected
