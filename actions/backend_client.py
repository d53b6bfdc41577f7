"""The one client the actions use to talk to the loyalty backend (see docs/contracts.md).

A pooled ``requests.Session`` with short timeouts and the service token. Errors are
mapped to two exceptions the actions understand: :class:`PartnerNotFound` (the sender
is not a partner) and :class:`BackendUnavailable` (down, slow, 5xx or unexpected reply).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from actions.logging_utils import log_event, mask_id

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (2.0, 5.0)  # (connect, read) seconds


class BackendError(Exception):
    """Base class for errors talking to the loyalty backend."""


class PartnerNotFound(BackendError):
    """No partner has this WhatsApp id."""


class BackendUnavailable(BackendError):
    """The backend is down, too slow, or answered with an error we cannot act on."""


class BackendClient:
    """Typed access to the backend's ``/api/v1`` endpoints used by the bot."""

    def __init__(
        self,
        base_url: str,
        service_token: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {"Authorization": f"Bearer {service_token}", "Accept": "application/json"}
        )

    @classmethod
    def from_env(cls) -> BackendClient:
        return cls(
            base_url=os.environ.get("BACKEND_URL", "http://127.0.0.1:8000"),
            service_token=os.environ.get("SERVICE_TOKEN", "demo-service-token"),
            timeout=(
                float(os.environ.get("BACKEND_CONNECT_TIMEOUT", DEFAULT_TIMEOUT[0])),
                float(os.environ.get("BACKEND_READ_TIMEOUT", DEFAULT_TIMEOUT[1])),
            ),
        )

    def _partner_path(self, wa_id: str, suffix: str = "") -> str:
        return f"/api/v1/partners/by-wa/{quote(wa_id, safe='')}{suffix}"

    def _request(self, method: str, path: str, wa_id: str, **kwargs: Any) -> Any:
        logged_path = path.replace(quote(wa_id, safe=""), mask_id(wa_id))
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            log_event(
                logger, logging.ERROR, "backend.unreachable",
                method=method, path=logged_path,
                error=type(exc).__name__,
            )
            raise BackendUnavailable(str(exc)) from exc
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        if response.status_code == 404 and _detail(response) == "partner not found":
            raise PartnerNotFound(wa_id)
        if response.status_code >= 400:
            log_event(
                logger, logging.ERROR, "backend.error",
                method=method, path=logged_path,
                status=response.status_code, ms=elapsed_ms,
                body=response.text[:300].replace(wa_id, mask_id(wa_id)),
            )
            raise BackendUnavailable(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            log_event(logger, logging.ERROR, "backend.bad_json", path=logged_path, ms=elapsed_ms)
            raise BackendUnavailable("invalid JSON from backend") from exc

    def get_partner(self, wa_id: str) -> dict[str, Any]:
        return self._request("GET", self._partner_path(wa_id), wa_id)

    def get_balance(self, wa_id: str) -> dict[str, Any]:
        return self._request("GET", self._partner_path(wa_id, "/balance"), wa_id)

    def get_tier_progress(self, wa_id: str) -> dict[str, Any]:
        return self._request("GET", self._partner_path(wa_id, "/tier"), wa_id)

    def get_history(
        self, wa_id: str, limit: int = 10, offset: int = 0, since: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if since:
            params["since"] = since
        return self._request("GET", self._partner_path(wa_id, "/history"), wa_id, params=params)

    def get_expiring(self, wa_id: str, within_days: int = 90) -> dict[str, Any]:
        return self._request(
            "GET", self._partner_path(wa_id, "/expiring"), wa_id,
            params={"within_days": within_days},
        )

    def set_language(self, wa_id: str, language: str) -> dict[str, Any]:
        return self._request(
            "PUT", self._partner_path(wa_id, "/language"), wa_id, json={"language": language}
        )


def _detail(response: requests.Response) -> object:
    try:
        return response.json().get("detail")
    except (ValueError, AttributeError):
        return None


_client: BackendClient | None = None


def get_client() -> BackendClient:
    """The process-wide client (one connection pool for the action server)."""
    global _client
    if _client is None:
        _client = BackendClient.from_env()
    return _client


def reset_client() -> None:
    """Forget the process-wide client (tests point it at another backend)."""
    global _client
    _client = None
