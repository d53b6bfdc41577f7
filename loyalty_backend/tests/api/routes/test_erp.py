from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ERPSalesLine

URL = "/api/v1/integrations/erp/sales-lines"


def _line(**overrides: object) -> dict:
    values: dict = {
        "invoice_no": "INV/SJ/2612/0001",
        "invoice_date": "2026-12-01",
        "customer_code": "CUST-0002",
        "sku": "SCK-12",
        "quantity": 3,
        "unit_price": 168000,
    }
    values.update(overrides)
    return values


def test_push_lines(client: TestClient, erp_auth: dict, seeded: datetime) -> None:
    lines = [_line(), _line(sku="AMN-24", seller="PT Jatim"), _line(sku="NOPE"), _line(quantity=0)]
    response = client.post(URL, json={"lines": lines}, headers=erp_auth)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [
            {"index": 2, "reason": "unknown sku NOPE"},
            {"index": 3, "reason": "quantity must be between 1 and 1000000"},
        ],
    }
    again = client.post(URL, json={"lines": lines[:2]}, headers=erp_auth).json()
    assert again == {"accepted": 0, "duplicates": 2, "rejected": []}


def test_the_seeded_sample_invoice_is_a_duplicate(
    client: TestClient, erp_auth: dict, seeded: datetime
) -> None:
    sample = _line(
        invoice_no="inv-dn-2611-00123",
        invoice_date="2026-11-26",
        customer_code="CUST-0001",
        sku="KSGA-24",
        quantity=10,
    )
    assert client.post(URL, json={"lines": [sample]}, headers=erp_auth).json()["duplicates"] == 1


def test_malformed_envelope_is_422(client: TestClient, erp_auth: dict) -> None:
    for body in ({}, {"lines": "x"}, {"lines": [1, 2]}, [{"invoice_no": "x"}]):
        assert client.post(URL, json=body, headers=erp_auth).status_code == 422, body


def test_empty_push(client: TestClient, erp_auth: dict) -> None:
    body = client.post(URL, json={"lines": []}, headers=erp_auth).json()
    assert body == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_too_many_lines_is_413(
    client: TestClient, erp_auth: dict, session: Session, seeded: datetime
) -> None:
    response = client.post(URL, json={"lines": [_line()] * 5001}, headers=erp_auth)
    assert response.status_code == 413
    assert response.json() == {"detail": "at most 5000 lines per call; got 5001"}
    before = session.scalar(select(func.count()).select_from(ERPSalesLine))
    assert before == session.scalar(select(func.count()).select_from(ERPSalesLine))


def test_only_the_erp_may_push(client: TestClient, auth: dict, admin_auth: dict) -> None:
    for headers in (auth, admin_auth):
        assert client.post(URL, json={"lines": []}, headers=headers).status_code == 403
