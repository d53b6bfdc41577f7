"""The one client the actions use to talk to the loyalty backend (see docs/contracts.md).

A pooled ``requests.Session`` with short timeouts and the service token. Errors are
mapped to exceptions the actions understand: :class:`PartnerNotFound` (the sender is not
a partner), :class:`PartnerInactive` (suspended or left the program),
:class:`BackendConflict` (409: a duplicate claim, a redemption that cannot be made,
with its code), :class:`BackendRefused` (413/415/422: the request itself cannot be taken,
with the backend's reason), :class:`BackendNotFound` (404 for a thing the backend names,
e.g. an unknown reward) and :class:`BackendUnavailable` (down, slow, 5xx or unexpected
reply).

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
# Reading an invoice photo takes seconds (the OCR target is p95 <= 3 s): a longer read.
DEFAULT_OCR_READ_TIMEOUT = 30.0
# The catalogue changes rarely; product names for OCR lines come from this cache.
CATALOGUE_TTL_SECONDS = 300.0


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


class BackendNotFound(BackendUnavailable):
    """404 with the backend's own reason ("reward not found"): the thing asked for does
    not exist for this partner. A 404 without one (a wrong route) stays unavailable."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class BackendConflict(BackendError):
    """409: the backend refused the request as it stands (``code`` says why)."""

    def __init__(self, detail: str, code: str | None = None, claim_no: str | None = None,
                 points_short: int | None = None,
                 description: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        # claims: "duplicate_invoice" | "duplicate_photo"; redemptions: "insufficient_points"
        # | "out_of_stock" | "not_eligible" | "limit_reached" | "address_required" |
        # "idempotency_conflict"
        self.code = code
        self.claim_no = claim_no
        self.points_short = points_short  # with insufficient_points
        self.description = description  # why, for the partner: {"id", "en"} (redemptions)


class BackendRefused(BackendError):
    """413/415/422: the request cannot be taken as sent (``detail`` is the backend's reason)."""

    def __init__(self, status: int, detail: str, code: str | None = None):
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.code = code


# FastAPI's answer for a path it has no route for (a mistyped BACKEND_URL): not a "not found".
NO_ROUTE_DETAIL = "Not Found"

# 4xx answers about the request itself (not the partner, not the backend's health).
REFUSED_STATUSES = frozenset({413, 415, 422})

# The backend's 403 details for partners who may not use the program (docs/contracts.md).
INACTIVE_DETAILS = {"partner suspended": "suspended", "partner has left": "left"}


class BackendClient:
    """Typed access to the backend's ``/api/v1`` endpoints used by the bot."""

    def __init__(
        self,
        base_url: str,
        service_token: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        ocr_read_timeout: float = DEFAULT_OCR_READ_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.ocr_timeout = (timeout[0], max(timeout[1], ocr_read_timeout))
        self._catalogue: tuple[float, dict[str, dict[str, Any]]] | None = None
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
            ocr_read_timeout=float(
                os.environ.get("BACKEND_OCR_READ_TIMEOUT", DEFAULT_OCR_READ_TIMEOUT)
            ),
        )

    def _partner_path(self, wa_id: str, suffix: str = "") -> str:
        return f"/api/v1/partners/by-wa/{quote(wa_id, safe='')}{suffix}"

    def _request(
        self, method: str, path: str, wa_id: str, timeout: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> Any:
        logged_path = path.replace(quote(wa_id, safe=""), mask_id(wa_id)) if wa_id else path
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=timeout or self.timeout, **kwargs
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
        if response.status_code == 404 and _json_object(response).get("code"):
            # Not the partner (that is PartnerNotFound above): a thing the request names,
            # e.g. a quiz or an attempt; the body says which ("code").
            body = _json_object(response)
            raise BackendRefused(404, detail or "not found", _opt_str(body.get("code")))
        if response.status_code == 404 and detail and detail != NO_ROUTE_DETAIL:
            logger.info("backend.not_found", method=method, path=logged_path, detail=detail)
            raise BackendNotFound(detail)
        if response.status_code == 409 and detail is not None:
            body = _json_object(response)
            logger.info("backend.conflict", method=method, path=logged_path,
                        code=body.get("code"))
            description = body.get("description")
            raise BackendConflict(detail, _opt_str(body.get("code")),
                                  _opt_str(body.get("claim_no")),
                                  _opt_int(body.get("points_short")),
                                  description if isinstance(description, dict) else None)
        if response.status_code in REFUSED_STATUSES:
            body = _json_object(response)
            reason = detail or _validation_summary(body.get("detail"))
            logger.warning("backend.refused", method=method, path=logged_path,
                           status=response.status_code, detail=reason[:200])
            raise BackendRefused(response.status_code, reason, _opt_str(body.get("code")))
        if response.status_code >= 400:
            body_text = response.text[:300]
            logger.error(
                "backend.error", method=method, path=logged_path,
                status=response.status_code, ms=elapsed_ms,
                body=body_text.replace(wa_id, mask_id(wa_id)) if wa_id else body_text,
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


    # --- claims (issue 17) -------------------------------------------------------

    def ocr_invoice(self, wa_id: str, data: bytes, mime: str) -> dict[str, Any]:
        """Read an invoice photo/PDF: ``{"image_id", "invoice_no", "invoice_date", "lines"…}``.

        The backend stores the image and returns its id for the claim. 413/415/422
        (too big, not a supported type, unreadable) → :class:`BackendRefused`.
        """
        return self._request(
            "POST", "/api/v1/ocr/invoice", wa_id, timeout=self.ocr_timeout,
            files={"file": (_filename(mime), data, mime)},
        )

    def upload_claim_image(self, wa_id: str, data: bytes, mime: str) -> dict[str, Any]:
        """Store a display/activity photo (no OCR): ``{"image_id"}``."""
        return self._request(
            "POST", "/api/v1/claim-images", wa_id, timeout=self.ocr_timeout,
            files={"file": (_filename(mime), data, mime)},
        )

    def match_products(self, q: str) -> dict[str, Any]:
        """Catalogue products for a name as partners write it: ``{"items", "ambiguous"}``."""
        return self._request("GET", "/api/v1/catalogue/match", "", params={"q": q})

    def list_products(self) -> dict[str, dict[str, Any]]:
        """The catalogue by SKU (``name``, ``unit``, …), cached for a few minutes."""
        now = time.monotonic()
        if self._catalogue and now - self._catalogue[0] < CATALOGUE_TTL_SECONDS:
            return self._catalogue[1]
        items = self._request("GET", "/api/v1/catalogue/products", "")["items"]
        products = {item["sku"]: item for item in items}
        self._catalogue = (now, products)
        return products

    def submit_claim(self, wa_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a claim (201, or 200 for a replayed idempotency key).

        409 duplicate → :class:`BackendConflict` (``code``: duplicate_invoice or
        duplicate_photo); 422 invalid → :class:`BackendRefused`.
        """
        return self._request("POST", self._partner_path(wa_id, "/claims"), wa_id, json=body)

    def list_claims(self, wa_id: str, limit: int = 5) -> dict[str, Any]:
        """The partner's own claims, newest first: ``{"items": [claim, ...]}``."""
        return self._request(
            "GET", self._partner_path(wa_id, "/claims"), wa_id, params={"limit": limit}
        )

    # --- quizzes and surveys (issue 19) ------------------------------------------

    def list_questionnaires(self, wa_id: str, kind: str) -> dict[str, Any]:
        """``kind`` "quizzes" or "surveys": what the partner may take now, ``{"items"}``."""
        return self._request("GET", self._partner_path(wa_id, f"/{kind}"), wa_id)

    def start_questionnaire(self, wa_id: str, kind: str, code: str) -> dict[str, Any]:
        """Start (201) or resume (200, ``resumed``) a quiz module or a survey.

        409 → :class:`BackendConflict` with ``code`` not_offered, attempt_limit or
        already_answered; 404 (no such code) → :class:`BackendRefused`.
        """
        path = self._partner_path(wa_id, f"/{kind}/{quote(code, safe='')}/start")
        return self._request("POST", path, wa_id)

    def answer_questionnaire(
        self, wa_id: str, kind: str, code: str, attempt_id: int, question_no: int, answer: str
    ) -> dict[str, Any]:
        """Answer the waiting question; the backend scores it (``correct``, ``result``).

        409 out_of_order → :class:`BackendConflict`; 422 invalid_answer and 404
        attempt_not_found → :class:`BackendRefused`.
        """
        path = self._partner_path(wa_id, f"/{kind}/{quote(code, safe='')}/answer")
        body = {"attempt_id": attempt_id, "question_no": question_no, "answer": answer}
        return self._request("POST", path, wa_id, json=body)

    def training_record(self, wa_id: str) -> dict[str, Any]:
        """The modules the partner has passed, newest first: ``{"items"}``."""
        return self._request("GET", self._partner_path(wa_id, "/quizzes/record"), wa_id)


    # --- rewards and redemptions (issue 18) --------------------------------------

    def list_rewards(
        self, wa_id: str, q: str | None = None, kind: str | None = None, limit: int = 9,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Rewards this partner may redeem, by kind then cost (``q``: best match first):
        ``{"balance", "expiring_soon_points", "expiring_soon_date", "total", "items"}``."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if q:
            params["q"] = q
        if kind:
            params["kind"] = kind
        return self._request("GET", self._partner_path(wa_id, "/rewards"), wa_id,
                             params=params)

    def get_reward(self, wa_id: str, code: str) -> dict[str, Any] | None:
        """One reward as this partner sees it (``unavailable`` says why they may not
        redeem it); None for an unknown code."""
        try:
            return self._request(
                "GET", self._partner_path(wa_id, f"/rewards/{quote(code, safe='')}"), wa_id
            )
        except BackendNotFound:
            return None

    def redeem(self, wa_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Redeem (201; the same ``idempotency_key`` again → 200 with the same redemption).

        409 → :class:`BackendConflict` (``code``, ``points_short``); 404 unknown reward →
        :class:`BackendNotFound`.
        """
        return self._request("POST", self._partner_path(wa_id, "/redemptions"), wa_id,
                             json=body)

    def list_redemptions(self, wa_id: str, limit: int = 5) -> dict[str, Any]:
        """The partner's own redemptions, newest first: ``{"items": [...]}``."""
        return self._request(
            "GET", self._partner_path(wa_id, "/redemptions"), wa_id, params={"limit": limit}
        )

    def get_redemption(self, wa_id: str, redemption_no: str) -> dict[str, Any] | None:
        """One of the partner's redemptions; None when they have none with this number."""
        try:
            return self._request(
                "GET",
                self._partner_path(wa_id, f"/redemptions/{quote(redemption_no, safe='')}"),
                wa_id,
            )
        except BackendNotFound:
            return None


    # Hand-off to a person (docs/contracts.md, "Hand-off to a person").
    def support_availability(self) -> dict[str, Any]:
        """Whether agents are on duty now: ``open``, ``expected_wait_minutes``,
        ``next_open_label`` ({"id", "en"}) when closed."""
        return self._request("GET", "/api/v1/support/availability", "")

    def request_handoff(
        self, wa_id: str, reason: str, idempotency_key: str, last_message: str | None
    ) -> dict[str, Any]:
        """Queue the partner for an agent (201, or 200 with the hand-off already open)."""
        body = {"reason": reason, "idempotency_key": idempotency_key,
                "last_message": last_message}
        return self._request("POST", self._partner_path(wa_id, "/handoffs"), wa_id, json=body)

    def keep_waiting(self, wa_id: str) -> dict[str, Any]:
        """The partner keeps waiting after the no-agent notice; :class:`BackendNotFound`
        when no hand-off is open any more."""
        return self._request("POST", self._partner_path(wa_id, "/handoffs/current/wait"), wa_id)

    def cancel_handoff(self, wa_id: str) -> dict[str, Any]:
        """The partner goes back to the bot; :class:`BackendNotFound` when none is open."""
        return self._request(
            "POST", self._partner_path(wa_id, "/handoffs/current/cancel"), wa_id
        )

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


def _filename(mime: str) -> str:
    return "upload." + _EXTENSIONS.get(mime.split(";")[0].strip().lower(), "bin")


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _validation_summary(detail: Any) -> str:
    """FastAPI's 422 ``detail`` list → one short line (``msg`` of each item)."""
    if isinstance(detail, list):
        messages = [str(item.get("msg")) for item in detail if isinstance(item, dict)]
        return "; ".join(m for m in messages if m) or "invalid request"
    return "invalid request"


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
