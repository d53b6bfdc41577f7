"""Corrections, typed claims and dates in plain words → values (pure, no backend)."""

from __future__ import annotations

from datetime import date

import pytest

from actions.claim_draft import (
    ADD_LINE,
    BAD_DATE,
    REMOVE_LINE,
    SET_INVOICE_DATE,
    SET_INVOICE_NO,
    SET_QUANTITY,
    Correction,
    LineChange,
    apply_correction,
    claim_body,
    draft_from_ocr,
    find_invoice_no,
    is_cancel_text,
    is_display_caption,
    merge_photo_into,
    missing_fields,
    new_draft,
    parse_correction,
    parse_date,
    parse_typed_claim,
    pick_candidate,
)

KOPSUS = {"sku": "KSGA-24", "name": "Kopi Susu Gula Aren 24 x 200 ml", "unit": "karton"}
TEH = {"sku": "TML-48", "name": "Teh Melati 48 x 250 ml", "unit": "karton"}
BISKUIT = {"sku": "BKL-20", "name": "Biskuit Kelapa 20 x 150 g", "unit": "dus"}


@pytest.mark.parametrize(("text", "expected"), [
    ("qty kopi susu 12", Correction(SET_QUANTITY, lines=(LineChange("kopi susu", 12),))),
    ("kopi susu 12", Correction(SET_QUANTITY, lines=(LineChange("kopi susu", 12),))),
    ("Kopi Susu jadi 12 krt", Correction(SET_QUANTITY, lines=(LineChange("kopi susu", 12),))),
    ("jumlah kopsus 12", Correction(SET_QUANTITY, lines=(LineChange("kopsus", 12),))),
    ("quantity kopi susu 12", Correction(SET_QUANTITY, lines=(LineChange("kopi susu", 12),))),
    ("change kopi susu to 12", Correction(SET_QUANTITY, lines=(LineChange("kopi susu", 12),))),
    ("kopsus x10", Correction(SET_QUANTITY, lines=(LineChange("kopsus", 10),))),
    ("kopi susu 12 teh melati 5", Correction(SET_QUANTITY, lines=(
        LineChange("kopi susu", 12), LineChange("teh melati", 5)))),
    ("nomor nota INV/DN/2611/00123", Correction(SET_INVOICE_NO, "INV/DN/2611/00123")),
    ("no faktur fkt-88213", Correction(SET_INVOICE_NO, "FKT-88213")),
    ("invoice number INV/DN/2611/00123", Correction(SET_INVOICE_NO, "INV/DN/2611/00123")),
    ("invoice no: INV-2024-00321", Correction(SET_INVOICE_NO, "INV-2024-00321")),
    ("tanggal 26/11/2026", Correction(SET_INVOICE_DATE, "2026-11-26")),
    ("tgl 26 nov 2026", Correction(SET_INVOICE_DATE, "2026-11-26")),
    ("date 2026-11-26", Correction(SET_INVOICE_DATE, "2026-11-26")),
    ("tanggal 31/02/2026", Correction(BAD_DATE)),
    ("hapus teh melati", Correction(REMOVE_LINE, lines=(LineChange("teh melati"),))),
    ("remove teh melati", Correction(REMOVE_LINE, lines=(LineChange("teh melati"),))),
    ("tambah biskuit 3", Correction(ADD_LINE, lines=(LineChange("biskuit", 3),))),
    ("tambah 3 dus biskuit", Correction(ADD_LINE, lines=(LineChange("biskuit", 3),))),
    ("add 3 biskuit", Correction(ADD_LINE, lines=(LineChange("biskuit", 3),))),
    ("ya", None), ("cek poin", None), ("", None), ("tambah", None),
])
def test_parse_correction(text, expected):
    assert parse_correction(text) == expected


@pytest.mark.parametrize(("editing", "text", "expected"), [
    ("invoice_no", "INV/DN/2611/00777", Correction(SET_INVOICE_NO, "INV/DN/2611/00777")),
    ("invoice_no", "nomornya 00777", Correction(SET_INVOICE_NO, "00777")),
    ("invoice_no", "ya", None),
    ("invoice_date", "26-11-2026", Correction(SET_INVOICE_DATE, "2026-11-26")),
    ("invoice_date", "32/13/2026", Correction(BAD_DATE)),
    ("invoice_date", "ya", None),
    ("lines", "kopi susu 7", Correction(SET_QUANTITY, lines=(LineChange("kopi susu", 7),))),
])
def test_step_by_step_values(editing, text, expected):
    assert parse_correction(text, editing) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("26/11/2026", date(2026, 11, 26)), ("26-11-26", date(2026, 11, 26)),
    ("2026-11-26", date(2026, 11, 26)), ("26 Nov 2026", date(2026, 11, 26)),
    ("26 nopember 2026", date(2026, 11, 26)), ("3 agustus 2026", date(2026, 8, 3)),
    ("nov 26, 2026", date(2026, 11, 26)), ("26/11", date(2026, 11, 26)),
    ("30/02/2026", None), ("besok", None),
])
def test_parse_date(text, expected):
    assert parse_date(text, today=date(2026, 11, 28)) == expected


def test_typed_claim():
    typed = parse_typed_claim("klaim INV/DN/2611/00123 kopi susu 10 teh melati 5")
    assert typed.invoice_no == "INV/DN/2611/00123"
    assert typed.lines == (LineChange("kopi susu", 10), LineChange("teh melati", 5))
    typed = parse_typed_claim("submit invoice INV-2024-00555 dated 26/11/2026: kopsus 10 krt")
    assert (typed.invoice_no, typed.invoice_date) == ("INV-2024-00555", "2026-11-26")
    assert typed.lines == (LineChange("kopsus", 10),)
    assert parse_typed_claim("mau klaim poin").is_empty
    assert parse_typed_claim("submit invoice").is_empty


def test_invoice_numbers_are_not_dates_or_amounts():
    assert find_invoice_no("tgl 26/11/2026") is None
    assert find_invoice_no("total 1.250.000") is None
    assert find_invoice_no("no 2024/INV/0456 ya") == "2024/INV/0456"


@pytest.mark.parametrize(("text", "cancel"), [
    ("batal", True), ("batalin aja", True), ("gak jadi deh", True), ("cancel", True),
    ("never mind", True), ("salah", False), ("ya", False), ("tidak", False),
])
def test_cancel_words(text, cancel):
    assert is_cancel_text(text) is cancel


def test_display_captions():
    assert is_display_caption("foto rak minggu ini")
    assert is_display_caption("Etalase toko")
    assert is_display_caption("display")
    assert not is_display_caption("nota kemarin")
    assert not is_display_caption(None)


def _draft() -> dict:
    draft = new_draft()
    draft.update(invoice_no="INV/1/2345", invoice_date="2026-11-26", image_id="img",
                 lines=[{**KOPSUS, "quantity": 10}, {**TEH, "quantity": 5}])
    return draft


def test_apply_corrections():
    draft = _draft()
    changed = apply_correction(draft, Correction(SET_QUANTITY, lines=(LineChange("kopsus", 12),)),
                               {"kopsus": KOPSUS})
    assert changed["lines"][0]["quantity"] == 12
    assert draft["lines"][0]["quantity"] == 10  # the input is not changed
    changed = apply_correction(draft, Correction(REMOVE_LINE, lines=(LineChange("teh"),)),
                               {"teh": TEH})
    assert [ln["sku"] for ln in changed["lines"]] == ["KSGA-24"]
    changed = apply_correction(draft, Correction(ADD_LINE, lines=(LineChange("biskuit", 3),)),
                               {"biskuit": BISKUIT})
    assert changed["lines"][-1] == {**BISKUIT, "quantity": 3}
    changed = apply_correction(draft, Correction(ADD_LINE, lines=(LineChange("teh", 2),)),
                               {"teh": TEH})
    assert changed["lines"][1]["quantity"] == 7
    changed = apply_correction(draft, Correction(SET_QUANTITY, lines=(LineChange("teh", 0),)),
                               {"teh": TEH})
    assert [ln["sku"] for ln in changed["lines"]] == ["KSGA-24"]
    # An unresolved product changes nothing.
    assert apply_correction(draft, Correction(SET_QUANTITY, lines=(LineChange("x", 1),)), {}
                            )["lines"] == draft["lines"]
    assert apply_correction(draft, Correction(SET_INVOICE_NO, "A-123"))["invoice_no"] == "A-123"


def test_missing_fields_in_asking_order():
    assert missing_fields(_draft()) == []
    assert missing_fields(new_draft()) == ["invoice_no", "invoice_date", "lines", "photo"]
    draft = _draft()
    draft["lines"][0]["quantity"] = None
    assert missing_fields(draft) == ["quantity"]


def test_ocr_draft_and_merge_with_a_typed_one():
    products = {"KSGA-24": KOPSUS, "TML-48": TEH}
    ocr = {"image_id": "img", "invoice_no": "INV/9/9999", "invoice_date": "2026-11-20",
           "lines": [{"sku": "KSGA-24", "quantity": 4, "text": "KOPSUS"},
                     {"sku": "KSGA-24", "quantity": 6, "text": "KOPSUS"},
                     {"sku": None, "quantity": 1, "text": "RINSO 800"}]}
    photo = draft_from_ocr(ocr, products)
    assert photo["lines"] == [{**KOPSUS, "quantity": 10}]
    assert photo["unread"] == ["RINSO 800"]
    typed = new_draft()
    typed.update(invoice_no="INV/1/2345", lines=[{**TEH, "quantity": 5}])
    merged = merge_photo_into(typed, photo)
    assert merged["invoice_no"] == "INV/1/2345"  # typed wins
    assert merged["invoice_date"] == "2026-11-20"  # the photo fills the gap
    assert merged["lines"] == [{**TEH, "quantity": 5}]
    assert merged["image_id"] == "img"


def test_claim_body_and_pick():
    body = claim_body(_draft(), "wa:1")
    assert body["lines"] == [{"sku": "KSGA-24", "quantity": 10}, {"sku": "TML-48", "quantity": 5}]
    assert body["idempotency_key"] == "wa:1" and body["kind"] == "sales"
    pick = {"candidates": [{"sku": "KSGA-24", "name": "Kopi Susu"}, {"sku": "KHT-24",
                                                                     "name": "Kopi Hitam"}]}
    assert pick_candidate(pick, "KHT-24")["sku"] == "KHT-24"
    assert pick_candidate(pick, "2")["sku"] == "KHT-24"
    assert pick_candidate(pick, "kopi susu")["sku"] == "KSGA-24"
    assert pick_candidate(pick, "3") is None
