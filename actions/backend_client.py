"""The one client the actions use to talk to the loyalty backend (see docs/contracts.md).

A pooled ``requests.Session`` with short timeouts and the service token. Errors are
mapped to exceptions the actions understand: :class:`PartnerNotFound` (the sender is not
a partner), :class:`PartnerInactive` (suspended or left the program) and
:class:`BackendUnavailable` (down, slow, 5xx or unexpected reply).

The client is synchronous; actions call it through :mod:`actions.offload`.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import quote

import requests
import structlog
from requests.adapters import HTTPAdapter

from actions.logging_utils import mask_id
from actions.offload import WORKER_THREADS
from mitra_config.secrets import require_secret

logger = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = (2.0, 5.0)  # (connect, read) seconds


class BackendError(Exception):
    """Base class for errors talking to the loyalty backend."""


class PartnerNotFound(BackendError):
    """No partner has this WhatsApp id."""


class PartnerInactive(BackendError):
    """The partner exists but may not use the program now (403 from the backend)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status  # "suspended" or "left" (INACTIVE_DETAILS)


class BackendUnavailable(BackendError):
    """The backend is down, too slow, or answered with an error we cannot act on."""


# The backend's 403 details for partners who may not use the program (docs/contracts.md).
INACTIVE_DETAILS = {"partner suspended": "suspended", "partner has left": "left"}


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
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=WORKER_THREADS, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {"Authorization": f"Bearer {service_token}", "Accept": "application/json"}
        )

    @classmethod
    def from_env(cls) -> BackendClient:
        """From ``BACKEND_URL`` and ``SERVICE_TOKEN`` (required: no committed fallback)."""
        return cls(
            base_url=os.environ.get("BACKEND_URL", "http://127.0.0.1:8000"),
            service_token=require_secret("SERVICE_TOKEN"),
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
            logger.error(
                "backend.unreachable", method=method, path=logged_path,
                error=type(exc).__name__,
            )
            raise BackendUnavailable(str(exc)) from exc
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        detail = _detail(response)
        if response.status_code == 404 and detail == "partner not found":
            raise PartnerNotFound(wa_id)
        if response.status_code == 403 and detail in INACTIVE_DETAILS:
            raise PartnerInactive(INACTIVE_DETAILS[detail])
        if response.status_code >= 400:
            logger.error(
                "backend.error", method=method, path=logged_path,
                status=response.status_code, ms=elapsed_ms,
                body=response.text[:300].replace(wa_id, mask_id(wa_id)),
            )
            raise BackendUnavailable(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            logger.error("backend.bad_json", path=logged_path, ms=elapsed_ms)
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


def _detail(response: requests.Response) -> str | None:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return None
    return detail if isinstance(detail, str) else None


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
