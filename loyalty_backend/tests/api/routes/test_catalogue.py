from datetime import datetime

from fastapi.testclient import TestClient

API = "/api/v1/catalogue"


def test_products(client: TestClient, auth: dict, seeded: datetime) -> None:
    response = client.get(f"{API}/products", headers=auth)
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 8
    ksga = next(p for p in items if p["sku"] == "KSGA-24")
    assert ksga["name"] == "Kopi Susu Gula Aren 24 x 200 ml"
    assert (ksga["unit"], ksga["points_per_unit"], ksga["is_new"]) == ("karton", 50, False)
    assert "kopsus" in ksga["synonyms"]
    assert set(ksga) == {"sku", "name", "unit", "points_per_unit", "is_new", "synonyms"}


def test_match_a_sure_one(client: TestClient, auth: dict, seeded: datetime) -> None:
    body = client.get(f"{API}/match", params={"q": "kopsus"}, headers=auth).json()
    assert body["ambiguous"] is False
    assert body["items"][0] == {
        "sku": "KSGA-24",
        "name": "Kopi Susu Gula Aren 24 x 200 ml",
        "score": 100.0,
    }
    body = client.get(f"{API}/match", params={"q": "TEH MELATI 48X250ML"}, headers=auth).json()
    assert (body["ambiguous"], body["items"][0]["sku"]) == (False, "TML-48")


def test_match_ambiguous_and_nothing(client: TestClient, auth: dict, seeded: datetime) -> None:
    body = client.get(f"{API}/match", params={"q": "kopi"}, headers=auth).json()
    assert body["ambiguous"] is True
    assert {i["sku"] for i in body["items"]} == {"KSGA-24", "KHT-24", "KSLS-24", "K3S-50"}
    body = client.get(f"{API}/match", params={"q": "rokok"}, headers=auth).json()
    assert body == {"items": [], "ambiguous": False}


def test_match_needs_a_query(client: TestClient, auth: dict) -> None:
    assert client.get(f"{API}/match", headers=auth).status_code == 422
    assert client.get(f"{API}/match", params={"q": ""}, headers=auth).status_code == 422
