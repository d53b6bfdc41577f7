"""POST /claim-images, POST and GET /partners/by-wa/{wa_id}/claims (service token)."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.services import claim_images
from tests.claims_utils import erp_invoice, load_catalogue, partner_with_code, photo

BY_WA = "/api/v1/partners/by-wa"


@pytest.fixture(autouse=True)
def catalogue(session: Session) -> None:
    load_catalogue(session)


def body(**overrides: object) -> dict:
    data = {
        "kind": "sales",
        "invoice_no": "INV/API/0001",
        "invoice_date": "2026-11-20",
        "lines": [{"sku": "KSGA-24", "quantity": 10}, {"sku": "TML-48", "quantity": 5}],
        "image_id": None,
        "idempotency_key": "wa:wamid.API1",
    }
    data.update(overrides)
    return data


def upload(client: TestClient, auth: dict, data: bytes, name: str = "nota.png", mime="image/png"):
    return client.post("/api/v1/claim-images", files={"file": (name, data, mime)}, headers=auth)


def test_upload_a_photo_then_claim_with_it(
    client: TestClient, auth: dict, session: Session
) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/API/0001", partner.erp_customer_code, {"KSGA-24": 10, "TML-48": 5})
    uploaded = upload(client, auth, photo(7))
    assert uploaded.status_code == 201
    image_id = uploaded.json()["image_id"]
    assert len(image_id) == 64
    assert upload(client, auth, photo(7)).json() == {"image_id": image_id}  # stored once

    url = f"{BY_WA}/{partner.wa_id}/claims"
    first = client.post(url, json=body(image_id=image_id), headers=auth)
    assert first.status_code == 201, first.text
    claim = first.json()
    assert claim["claim_no"].startswith("KLM-") and claim["status"] == "approved"
    assert claim["kind"] == "sales" and claim["invoice_no"] == "INV/API/0001"
    assert claim["invoice_date"] == "2026-11-20"
    assert claim["points"] == sum(rule["points"] for rule in claim["rules"]) > 0
    assert claim["lines"][0] == {
        "sku": "KSGA-24",
        "name": "Kopi Susu Gula Aren 24 x 200 ml",
        "quantity": 10,
        "unit": "karton",
    }
    assert set(claim["rules"][0]) == {"rule", "points", "description"}
    assert claim["reasons"] == [] and claim["review_eta"] is None
    assert claim["created_at"].endswith("+00:00")

    replay = client.post(url, json=body(image_id=image_id), headers=auth)
    assert replay.status_code == 200 and replay.json() == claim

    balance = client.get(f"{BY_WA}/{partner.wa_id}/balance", headers=auth).json()
    assert balance["available_points"] == claim["points"]


def test_duplicates_are_409_with_a_code(client: TestClient, auth: dict, session: Session) -> None:
    budi, sarah = partner_with_code(session), partner_with_code(session)
    erp_invoice(session, "INV/API/0002", budi.erp_customer_code, {"KSGA-24": 10})
    image_id = upload(client, auth, photo(8)).json()["image_id"]
    lines = [{"sku": "KSGA-24", "quantity": 10}]
    first = client.post(
        f"{BY_WA}/{budi.wa_id}/claims",
        json=body(invoice_no="INV/API/0002", lines=lines, image_id=image_id),
        headers=auth,
    ).json()

    again = client.post(
        f"{BY_WA}/{budi.wa_id}/claims",
        json=body(invoice_no="inv-api-0002", lines=lines, idempotency_key="wa:other"),
        headers=auth,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_invoice"
    assert again.json()["claim_no"] == first["claim_no"]
    stranger = client.post(
        f"{BY_WA}/{sarah.wa_id}/claims",
        json=body(invoice_no="INV/API/0002", lines=lines),
        headers=auth,
    )
    assert stranger.status_code == 409
    assert stranger.json() == {
        "detail": "invoice INV/API/0002 was already claimed by another partner",
        "code": "duplicate_invoice",
    }
    same_photo = client.post(
        f"{BY_WA}/{sarah.wa_id}/claims",
        json=body(invoice_no="INV/API/0003", lines=lines, image_id=image_id),
        headers=auth,
    )
    assert same_photo.status_code == 409 and same_photo.json()["code"] == "duplicate_photo"
    assert "claim_no" not in same_photo.json()


@pytest.mark.parametrize(
    "overrides",
    [
        {"lines": [{"sku": "NOPE-1", "quantity": 1}]},
        {"lines": [{"sku": "KSGA-24", "quantity": 0}]},
        {"lines": [{"sku": "KSGA-24", "quantity": 100001}]},
        {"lines": [{"sku": "KSGA-24", "quantity": "3"}]},
        {"lines": []},
        {"invoice_no": None},
        {"invoice_no": "   "},
        {"kind": "display", "image_id": None},
        {"image_id": "not-a-sha256"},
        {"image_id": "a" * 64},
        {"idempotency_key": "claim:KLM-000001"},
        {"kind": "refund"},
        {"extra": 1},
    ],
)
def test_invalid_claims_are_422(
    client: TestClient, auth: dict, session: Session, overrides: dict
) -> None:
    partner = partner_with_code(session)
    response = client.post(f"{BY_WA}/{partner.wa_id}/claims", json=body(**overrides), headers=auth)
    assert response.status_code == 422, response.text


def test_pending_claim_says_why_and_when(client: TestClient, auth: dict, session: Session) -> None:
    partner = partner_with_code(session)
    response = client.post(f"{BY_WA}/{partner.wa_id}/claims", json=body(), headers=auth)
    assert response.status_code == 201
    claim = response.json()
    assert claim["status"] == "pending_review" and claim["points"] == 0
    assert claim["reasons"][0]["code"] == "not_in_erp"
    assert set(claim["reasons"][0]["description"]) == {"id", "en"}
    assert claim["review_eta"] == {
        "id": "biasanya 1-2 hari kerja",
        "en": "usually 1-2 working days",
    }


def test_a_display_claim(client: TestClient, auth: dict, session: Session) -> None:
    partner = partner_with_code(session)
    image_id = upload(client, auth, photo(9, fmt="JPEG"), "rak.jpg", "image/jpeg").json()
    response = client.post(
        f"{BY_WA}/{partner.wa_id}/claims",
        json=body(kind="display", invoice_no=None, lines=[], image_id=image_id["image_id"]),
        headers=auth,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending_review"
    assert response.json()["reasons"][0]["code"] == "display_review"


def test_list_shows_only_the_partners_own_claims_newest_first(
    client: TestClient, auth: dict, session: Session
) -> None:
    partner, other = partner_with_code(session), partner_with_code(session)
    for n in range(3):
        client.post(
            f"{BY_WA}/{partner.wa_id}/claims",
            json=body(invoice_no=f"INV/API/L{n}", idempotency_key=f"wa:l{n}"),
            headers=auth,
        )
    client.post(f"{BY_WA}/{other.wa_id}/claims", json=body(invoice_no="INV/API/X"), headers=auth)
    listed = client.get(f"{BY_WA}/{partner.wa_id}/claims?limit=2", headers=auth)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [c["invoice_no"] for c in items] == ["INV/API/L2", "INV/API/L1"]
    everything = client.get(f"{BY_WA}/{partner.wa_id}/claims", headers=auth).json()["items"]
    assert len(everything) == 3
    assert client.get(f"{BY_WA}/6289900000000/claims", headers=auth).status_code == 404
    assert client.get(f"{BY_WA}/{partner.wa_id}/claims?limit=51", headers=auth).status_code == 422


def test_a_suspended_partner_cannot_claim(
    client: TestClient, auth: dict, admin_auth: dict, session: Session
) -> None:
    partner = partner_with_code(session)
    client.put(
        f"/api/v1/admin/partners/by-wa/{partner.wa_id}/status",
        json={"status": "suspended"},
        headers=admin_auth,
    )
    response = client.post(f"{BY_WA}/{partner.wa_id}/claims", json=body(), headers=auth)
    assert response.status_code == 403
    assert client.get(f"{BY_WA}/{partner.wa_id}/claims", headers=auth).status_code == 200


def test_uploads_are_checked_by_content_and_size(
    client: TestClient, auth: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    gif = b"GIF89a" + b"\x00" * 100
    refused = upload(client, auth, gif, "x.gif", "image/gif")
    assert refused.status_code == 415 and "detail" in refused.json()
    # A PNG by name and declared type that is not one is refused the same way.
    assert upload(client, auth, b"hello", "x.png", "image/png").status_code == 415
    broken = upload(client, auth, b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    assert broken.status_code == 422
    monkeypatch.setattr(claim_images, "MAX_IMAGE_BYTES", 1000)
    too_big = upload(client, auth, photo(3))
    assert too_big.status_code == 413 and "10 MB" in too_big.json()["detail"]
    assert client.post("/api/v1/claim-images", headers=auth).status_code == 422
