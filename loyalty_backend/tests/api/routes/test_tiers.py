from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.core.clock import utcnow, wib_date
from app.demo_fixtures import ANDI, BUDI, FIXTURES, RINA, SARAH, DemoFixture

BY_WA = "/api/v1/partners/by-wa"


def test_tiers_are_data_in_ascending_order(client: TestClient, auth: dict, seeded: datetime):
    response = client.get("/api/v1/tiers", headers=auth)
    assert response.status_code == 200
    assert response.json() == [
        {
            "code": "silver",
            "name": "Silver",
            "min_points": 0,
            "multiplier": 1.0,
            "multiplier_percent": 100,
            "rank": 1,
            "window_days": 365,
        },
        {
            "code": "gold",
            "name": "Gold",
            "min_points": 5000,
            "multiplier": 1.25,
            "multiplier_percent": 125,
            "rank": 2,
            "window_days": 365,
        },
        {
            "code": "platinum",
            "name": "Platinum",
            "min_points": 15000,
            "multiplier": 1.5,
            "multiplier_percent": 150,
            "rank": 3,
            "window_days": 365,
        },
    ]


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_fixture_tiers(client: TestClient, auth: dict, seeded: datetime, fixture: DemoFixture):
    response = client.get(f"{BY_WA}/{fixture.wa_id}/tier", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["current"]["code"] == fixture.tier
    assert body["window_days"] == 365
    assert body["window_start"] == wib_date(utcnow() - timedelta(days=365)).isoformat()


def test_progress_numbers(client: TestClient, auth: dict, seeded: datetime) -> None:
    budi = client.get(f"{BY_WA}/{BUDI.wa_id}/tier", headers=auth).json()
    assert budi["current"] == {"code": "gold", "name": "Gold", "min_points": 5000}
    assert budi["next"] == {"code": "platinum", "name": "Platinum", "min_points": 15000}
    assert budi["points_in_window"] == 7500
    assert budi["points_to_next"] == 7500

    andi = client.get(f"{BY_WA}/{ANDI.wa_id}/tier", headers=auth).json()
    assert andi["current"]["code"] == "platinum"
    assert andi["next"] is None
    assert andi["points_to_next"] == 0
    assert andi["points_in_window"] == 16800

    rina = client.get(f"{BY_WA}/{RINA.wa_id}/tier", headers=auth).json()
    assert rina["current"]["code"] == "silver"
    assert rina["next"]["code"] == "gold"
    assert rina["points_in_window"] == 0
    assert rina["points_to_next"] == 5000

    sarah = client.get(f"{BY_WA}/{SARAH.wa_id}/tier", headers=auth).json()
    assert sarah["points_to_next"] == 5000 - 950


def test_without_tiers_the_answer_is_503_not_500(client: TestClient, auth: dict, session) -> None:
    from tests.utils import new_partner

    partner = new_partner(session)
    response = client.get(f"{BY_WA}/{partner.wa_id}/tier", headers=auth)
    assert response.status_code == 503
    assert "tiers" in response.json()["detail"]
