from fastapi.testclient import TestClient


def test_health_needs_no_auth_and_checks_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_openapi_lists_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/health",
        "/api/v1/partners/by-wa/{wa_id}",
        "/api/v1/partners/by-wa/{wa_id}/balance",
        "/api/v1/partners/by-wa/{wa_id}/tier",
        "/api/v1/partners/by-wa/{wa_id}/history",
        "/api/v1/partners/by-wa/{wa_id}/expiring",
        "/api/v1/partners/by-wa/{wa_id}/language",
        "/api/v1/tiers",
        "/api/v1/admin/partners/by-wa/{wa_id}/points/earn",
        "/api/v1/admin/partners/by-wa/{wa_id}/points/spend",
        "/api/v1/admin/partners/by-wa/{wa_id}/status",
    } <= paths
    # Points are minted only through admin routes.
    assert not any(p.startswith("/api/v1/partners/") and "/points/" in p for p in paths)
    assert client.get("/docs").status_code == 200


def test_health_reports_a_broken_database(client: TestClient) -> None:
    from sqlalchemy.orm import Session

    from app.api.deps import get_db
    from app.core.db import make_engine
    from app.main import app

    broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_pre_ping=False)

    def _broken_db():
        with Session(broken) as session:
            yield session

    previous = app.dependency_overrides[get_db]
    app.dependency_overrides[get_db] = _broken_db
    try:
        response = client.get("/health")
    finally:
        app.dependency_overrides[get_db] = previous
        broken.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "database": "error"}
