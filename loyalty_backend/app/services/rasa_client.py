"""The backend's calls to Rasa's HTTP API (hand-off to a person, issue 20).

Every call goes to ``RASA_URL`` with ``?token=RASA_AUTH_TOKEN`` (Rasa's token auth; the
API is on only with ``RASA_ENABLE_API=true``):

- ``post_events``: ``POST /conversations/{wa_id}/tracker/events?output_channel=whatsapp&
  execute_side_effects=true`` (an agent's reply as a ``bot`` event, ``pause``, ``resume``);
- ``trigger_intent``: ``POST /conversations/{wa_id}/trigger_intent?output_channel=whatsapp``
  (``EXTERNAL_handback``, ``EXTERNAL_handoff_timeout``: the bot speaks first);
- ``get_tracker``: ``GET /conversations/{wa_id}/tracker`` (the transcript).

Whatever goes wrong (no token configured, Rasa down or slow, an error answer) raises
``RasaUnavailable``, a domain error the API answers with 503 (502 when Rasa answered with
an error) and ``{"detail": "the chat service is unavailable; try again"}``, never a 500.
The token is never logged; wa_ids are logged masked.
"""

import logging
from typing import Any
from urllib.parse import quote

import httpx

from app.core.config import Settings, settings
from app.core.logging import mask_wa_id
from app.services.errors import DomainError

log = logging.getLogger("app.rasa")
# httpx logs every request's full URL at INFO, and Rasa's token is in the query string:
# keep its request lines out of the logs (this module logs what matters, masked).
logging.getLogger("httpx").setLevel(logging.WARNING)

UNAVAILABLE = "the chat service is unavailable; try again"


class RasaUnavailable(DomainError):
    """Rasa could not be reached or refused the call; ``reason`` is for the logs."""

    detail = UNAVAILABLE
    status_code = 503

    def __init__(self, reason: str, *, status_code: int = 503) -> None:
        super().__init__(UNAVAILABLE)
        self.reason = reason
        self.status_code = status_code
        # The HTTP status Rasa answered with (None: not reached, timed out, or not JSON):
        # the notifier tells a refusal (4xx) from Rasa being down or failing (5xx).
        self.rasa_status: int | None = None


Event = dict[str, Any]


class RasaClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._transport = transport
        # A long-lived connection pool (``open``/``aclose``, or ``async with``) for callers
        # that make many calls (the notifier); without it each call opens its own.
        self._http: httpx.AsyncClient | None = None

    @property
    def configured(self) -> bool:
        return bool(self._token)

    async def post_events(
        self,
        wa_id: str,
        events: Event | list[Event],
        *,
        output_channel: str = "whatsapp",
        execute_side_effects: bool = True,
    ) -> None:
        """Append events to the conversation (one event object, or a list, sent as given)."""
        await self._call(
            "POST",
            wa_id,
            "tracker/events",
            params={
                "output_channel": output_channel,
                "execute_side_effects": "true" if execute_side_effects else "false",
            },
            body=events,
        )

    async def resume_and_trigger(self, wa_id: str, name: str) -> None:
        """Un-pause the conversation, then let the bot speak first on intent ``name``
        (the hand-back, the no-agent notice): two calls, in this order."""
        await self.post_events(wa_id, {"event": "resume"})
        await self.trigger_intent(wa_id, name)

    async def trigger_intent(
        self,
        wa_id: str,
        name: str,
        *,
        output_channel: str = "whatsapp",
        entities: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Make the bot act on an (external) intent; its answer goes to ``output_channel``.
        ``entities`` (e.g. the notifier's ``{"notice": "<JSON>"}``) go with the intent.
        Returns the conversation's state after the turn, without its events (``paused``
        says whether the bot was silent because a person handles the chat)."""
        body: dict[str, Any] = {"name": name}
        if entities:
            body["entities"] = entities
        data = await self._call(
            "POST",
            wa_id,
            "trigger_intent",
            params={"output_channel": output_channel, "include_events": "NONE"},
            body=body,
        )
        tracker = data.get("tracker") if isinstance(data, dict) else None
        return tracker if isinstance(tracker, dict) else {}

    async def get_tracker(self, wa_id: str) -> dict[str, Any]:
        data = await self._call("GET", wa_id, "tracker", params={})
        if not isinstance(data, dict):
            raise RasaUnavailable("tracker is not a JSON object", status_code=502)
        return data

    async def open(self) -> None:
        """Keep one connection pool for the calls that follow (until ``aclose``)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def __aenter__(self) -> "RasaClient":
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _call(
        self, method: str, wa_id: str, path: str, *, params: dict[str, str], body: Any = None
    ) -> Any:
        if not self._token:
            raise RasaUnavailable("RASA_AUTH_TOKEN is not set")
        url = f"{self.base_url}/conversations/{quote(wa_id, safe='')}/{path}"
        where = {"method": method, "rasa_path": path, "wa_id": mask_wa_id(wa_id)}
        query = {**params, "token": self._token}
        try:
            if self._http is not None:
                response = await self._http.request(method, url, params=query, json=body)
            else:
                async with httpx.AsyncClient(
                    timeout=self._timeout, transport=self._transport
                ) as http:
                    response = await http.request(method, url, params=query, json=body)
        except httpx.HTTPError as exc:
            log.warning("rasa unreachable", extra={**where, "error": type(exc).__name__})
            raise RasaUnavailable(f"unreachable: {type(exc).__name__}") from None
        if response.status_code >= 400:
            log.warning("rasa refused", extra={**where, "status": response.status_code})
            refused = RasaUnavailable(f"answered {response.status_code}", status_code=502)
            refused.rasa_status = response.status_code
            raise refused
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RasaUnavailable("answer is not JSON", status_code=502) from None


def client_for(config: Settings) -> RasaClient:
    return RasaClient(config.RASA_URL, config.rasa_token, timeout=config.RASA_TIMEOUT_SECONDS)


def get_rasa_client() -> RasaClient:
    """The client for the configured Rasa (a FastAPI dependency; read at each call, so
    tests may point RASA_URL at their own server)."""
    return client_for(settings)
