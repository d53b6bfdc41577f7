"""Lines from OCR-like rows: the product (fuzzy, as distributors print it) and the
quantity from the Qty column, never the price or the total."""

import pytest

from app.ocr import Matcher, parse_rows, rows_from_text
from app.ocr.items import parse_quantity


def lines(text: str, matcher: Matcher) -> list[tuple[str, int | None]]:
    return [(ln.sku, ln.quantity) for ln in parse_rows(rows_from_text(text), matcher).lines]


@pytest.mark.parametrize(
    ("printed", "sku"),
    [
        ("KOPI SUSU GULA AREN 24X200ML", "KSGA-24"),
        ("KOPSUS GULA AREN (24)", "KSGA-24"),
        ("KOPI SUSU GL AREN 200ML X24", "KSGA-24"),
        ("KOPSUS G.AREN 24X200ML", "KSGA-24"),
        ("KP HITAM TUBRUK 200MLX24", "KHT-24"),
        ("TEH MLT 48X250ML", "TML-48"),
        ("TEH RASA MELATI 250ML/48", "TML-48"),
        ("SUSU COKLT 12 X 1 LT", "SCK-12"),
        ("KOPSUS LESS SGR 24X200ML", "KSLS-24"),
        ("BISK KELAPA 20X150GR", "BKL-20"),
        ("KOPI 3 IN 1 SACHET 50X20G", "K3S-50"),
        ("AMDK 600ML 24 BTL", "AMN-24"),
        ("KOPSUS LESS SUGAR (24)", "KSLS-24"),  # not Kopi Susu Gula Aren
        ("KOPI SUSU LESS SUGAR 24X200ML", "KSLS-24"),
        ("KOPI SUSU GULA ARFN 24X2O0ML", "KSGA-24"),  # OCR errors
    ],
)
def test_printed_names_match_their_sku(printed: str, sku: str, matcher: Matcher) -> None:
    guess = matcher.guess(printed)
    assert guess is not None and guess.sku == sku and guess.score >= 0.6


@pytest.mark.parametrize(
    "printed", ["GULA PASIR 1KG (10)", "MIE GORENG SPESIAL 40X85G", "MINYAK GORENG 2L (6)", "TOTAL"]
)
def test_other_brands_goods_match_nothing(printed: str, matcher: Matcher) -> None:
    guess = matcher.guess(printed)
    assert guess is None or guess.score < 0.6


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("10", 10),
        ("10,00", 10),
        ("10.00", 10),
        ("1O", 10),
        ("l2", 12),
        ("1.200", 1200),
        ("2,5", None),
        ("96.000x", None),
        ("abc", None),
        ("0", None),
    ],
)
def test_quantity_tokens(token: str, value: int | None) -> None:
    assert parse_quantity(token) == value


TABLE = """\
No  Kode      Nama Barang                      Qty   Sat   Harga Sat      Jumlah
1   KSGA-24   KOPI SUSU GULA AREN 24X200ML      10   KRT      96.000     960.000
2   BRG0012   TEH MELATI 48X250ML                5   KRT     120.000     600.000
3   10023     GULA PASIR 1KG (10)               30   KRT      55.000   1.650.000
4   BRG0044   KOPSUS LESS SUGAR (24)           120   CTN      99.000  11.880.000
                                                           TOTAL  15.090.000
"""


def test_table_quantity_comes_from_the_qty_column(matcher: Matcher) -> None:
    assert lines(TABLE, matcher) == [("KSGA-24", 10), ("TML-48", 5), ("KSLS-24", 120)]


def test_quantity_after_the_price_column(matcher: Matcher) -> None:
    text = """\
No  Nama Barang                    Harga    Qty   Sat     Jumlah
1   KOPI HITAM TUBRUK (24)        88.000     48   CTN  4.224.000
2   AIR MINERAL 600ML (24)        42.000      3   KRT    126.000
"""
    assert lines(text, matcher) == [("KHT-24", 48), ("AMN-24", 3)]


def test_quantity_with_its_unit_in_one_column(matcher: Matcher) -> None:
    text = """\
No  Nama Barang                       Banyaknya     Harga       Jumlah
1   SUSU COKLAT 1L (12)                  18 KRT   198.000    3.564.000
2   BISKUIT KELAPA 20X150G             10,00 DUS  150.000    1.500.000
"""
    assert lines(text, matcher) == [("SCK-12", 18), ("BKL-20", 10)]


def test_receipt_quantity_on_the_next_row(matcher: Matcher) -> None:
    text = """\
UD BERKAH JAYA
No Faktur: INV/BJ/2611/70083
Tanggal: 17/11/2026
Kd. Plg: CUST-0001
--------------------------------
KOPSUS LESS SUGAR (24)
   26 KRT x 99.000      2.574.000
BISK KELAPA 20X150GR
   14 DS x 150.000      2.100.000
--------------------------------
TOTAL                   4.674.000
"""
    reading = parse_rows(rows_from_text(text), matcher)
    assert [(ln.sku, ln.quantity) for ln in reading.lines] == [("KSLS-24", 26), ("BKL-20", 14)]
    assert reading.invoice_no == "INV/BJ/2611/70083"
    assert reading.invoice_date == "2026-11-17"
    assert reading.customer_code == "CUST-0001"
    assert reading.seller == "UD Berkah Jaya"


def test_a_whole_invoice(matcher: Matcher) -> None:
    text = (
        """\
PT DISTRIBUSI NUSANTARA
Jl. Gatot Subroto No. 12, Medan  Telp. 061-4521 889
                     FAKTUR PENJUALAN
Tanggal      : 26/11/2026               Sales     : MEGA
Jatuh Tempo  : 26/12/2026               Kode Plg  : CUST-0001
No. Faktur   : INV/DN/2611/00123        Kepada    : Toko Sinar Jaya
"""
        + TABLE
    )
    reading = parse_rows(rows_from_text(text), matcher)
    assert reading.as_dict() == {
        "invoice_no": "INV/DN/2611/00123",
        "invoice_date": "2026-11-26",
        "customer_code": "CUST-0001",
        "seller": "PT Distribusi Nusantara",
        "lines": [
            {
                "sku": "KSGA-24",
                "quantity": 10,
                "text": "KOPI SUSU GULA AREN 24X200ML",
                "confidence": pytest.approx(0.97, abs=0.03),
            },
            {
                "sku": "TML-48",
                "quantity": 5,
                "text": "TEH MELATI 48X250ML",
                "confidence": pytest.approx(0.97, abs=0.03),
            },
            {
                "sku": "KSLS-24",
                "quantity": 120,
                "text": "KOPSUS LESS SUGAR (24)",
                "confidence": pytest.approx(0.97, abs=0.03),
            },
        ],
        "seconds": 0.0,
    }


def test_nothing_readable_gives_nulls(matcher: Matcher) -> None:
    reading = parse_rows(rows_from_text("~~~ ,,, ...\n\n"), matcher)
    assert reading.as_dict() == {
        "invoice_no": None,
        "invoice_date": None,
        "customer_code": None,
        "seller": None,
        "lines": [],
        "seconds": 0.0,
    }
