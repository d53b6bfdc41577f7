"""POST /api/v1/ocr/invoice: the photo is read, stored, and the reading returned."""

import hashlib
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

URL = "/api/v1/ocr/invoice"
SAMPLE = Path(__file__).parents[2] / "ocr" / "samples" / "sample-invoice.jpg"

pytestmark = pytest.mark.usefixtures("seeded")


def post(
    client: TestClient,
    headers: dict,
    data: bytes,
    name: str = "x.jpg",
    content_type: str = "image/jpeg",
):
    return client.post(URL, headers=headers, files={"file": (name, data, content_type)})


def test_reads_the_sample_invoice_and_stores_the_photo(client: TestClient, auth: dict) -> None:
    data = SAMPLE.read_bytes()
    r = post(client, auth, data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image_id"] == hashlib.sha256(data).hexdigest()
    assert body["invoice_no"] == "INV/DN/2611/00123"
    assert body["invoice_date"] == "2026-11-26"
    assert body["customer_code"] == "CUST-0001"
    assert body["seller"] == "PT Distribusi Nusantara"
    assert [(ln["sku"], ln["quantity"]) for ln in body["lines"]] == [("KSGA-24", 10), ("TML-48", 5)]
    assert all(0 < ln["confidence"] <= 1 for ln in body["lines"])
    assert 0 < body["seconds"] < 10
    # the same photo again: the same stored image
    assert post(client, auth, data).json()["image_id"] == body["image_id"]


def test_a_pdf_scan_is_read_from_its_first_page(client: TestClient, auth: dict) -> None:
    buffer = io.BytesIO()
    Image.open(SAMPLE).convert("RGB").save(buffer, format="PDF", resolution=150)
    r = post(client, auth, buffer.getvalue(), "faktur.pdf", "application/pdf")
    assert r.status_code == 200, r.text
    assert r.json()["invoice_no"] == "INV/DN/2611/00123"


def test_needs_the_service_token(client: TestClient, erp_auth: dict) -> None:
    data = SAMPLE.read_bytes()
    assert post(client, {}, data).status_code == 401
    assert post(client, erp_auth, data).status_code == 403


def test_refuses_what_is_not_an_invoice_photo(client: TestClient, auth: dict) -> None:
    r = post(client, auth, b"hello, not a picture", "note.txt", "text/plain")
    assert r.status_code == 415 and r.json()["detail"]
    r = post(client, auth, b"\xff\xd8\xff\xe0" + b"\x00" * 500)
    assert r.status_code == 422 and r.json()["detail"]
    r = post(client, auth, b"")
    assert r.status_code == 422 and r.json()["detail"]
    r = post(client, auth, b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024))
    assert r.status_code == 413 and r.json()["detail"]
    assert client.post(URL, headers=auth).status_code == 422  # no file at all
