"""``/sandbox/*``: the partner simulator, inspection, faults and config (not Meta's API)."""

from __future__ import annotations

import secrets
from pathlib import Path

from aiohttp import web

from sandbox.errors import PayloadError
from sandbox.graph import read_upload, store_upload
from sandbox.logs import log_event
from sandbox.partners import partner_list
from sandbox.payloads import message_webhook
from sandbox.simulator import SimulatorError, build_message
from sandbox.state import SandboxState, state_of
from sandbox.store import parse_since
from sandbox.webhook import serialize

STATIC_DIR = Path(__file__).parent / "static"
SIGNATURES = ("valid", "bad", "none")
FAULT_SCOPES = ("send", "read", "media", "any")


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "body must be JSON"}', content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body must be a JSON object"}', content_type="application/json"
        )
    return body


def _since(request: web.Request) -> int | float | None:
    try:
        return parse_since(request.query.get("since"))
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "since must be a sequence number or an ISO 8601 time"}',
            content_type="application/json",
        ) from None


def _listing(state: SandboxState, key: str, records: list, since) -> dict:
    # The store's newest seq before listing: a client polling with since=last_seq misses nothing.
    floor = since if isinstance(since, int) else 0
    last_seq = max([state.store.last_seq(), floor, *(r.seq for r in records[-1:])])
    return {key: [r.to_json() for r in records], "count": len(records), "last_seq": last_seq}


# --- partner simulator --------------------------------------------------------------
async def inbound(request: web.Request) -> web.Response:
    """POST /sandbox/inbound: build, sign and post a Cloud API message webhook to the bot."""
    state = state_of(request)
    body = await _json_body(request)
    signature = body.get("signature", "valid")
    if signature not in SIGNATURES:
        return _bad_request(f"signature must be one of {SIGNATURES}")
    try:
        wa_id, name, message, _ = build_message(state, body)
    except SimulatorError as exc:
        return _bad_request(str(exc))
    webhook = message_webhook(state.settings, wa_id, name, message, body.get("user_id"))
    record = state.store.add_inbound(wa_id, message["id"], message["type"], message, name)
    assert state.poster is not None
    delivery = await state.poster.post(
        state.settings.webhook_url, serialize(webhook), state.settings.app_secret, signature
    )
    record.webhook_status, record.webhook_ms = delivery.status, delivery.ms
    log_event(
        "inbound.posted",
        from_=wa_id,
        type=message["type"],
        id=message["id"],
        seq=record.seq,
        webhook_status=delivery.status,
        webhook_ms=delivery.ms,
    )
    result = {
        "message_id": message["id"],
        "webhook_status": delivery.status,
        "webhook_ms": delivery.ms,
        "seq": record.seq,
        "message": message,
    }
    if delivery.error:
        result["error"] = f"could not reach {state.settings.webhook_url}: {delivery.error}"
        return web.json_response(result, status=502)
    return web.json_response(result)


async def inbound_raw(request: web.Request) -> web.Response:
    """POST /sandbox/inbound/raw: post any body (object or string) with a valid/bad/no signature."""
    state = state_of(request)
    body = await _json_body(request)
    if "body" not in body:
        return _bad_request("'body' is required (a JSON value, or a string sent verbatim)")
    signature = body.get("signature", "valid")
    if signature not in SIGNATURES:
        return _bad_request(f"signature must be one of {SIGNATURES}")
    raw = body["body"].encode() if isinstance(body["body"], str) else serialize(body["body"])
    headers = body.get("headers") if isinstance(body.get("headers"), dict) else None
    assert state.poster is not None
    delivery = await state.poster.post(
        state.settings.webhook_url, raw, state.settings.app_secret, signature, headers
    )
    log_event("inbound.raw_posted", signature=signature, webhook_status=delivery.status)
    result = {
        "webhook_status": delivery.status,
        "webhook_ms": delivery.ms,
        "response_body": delivery.body,
    }
    if delivery.error:
        result["error"] = delivery.error
        return web.json_response(result, status=502)
    return web.json_response(result)


async def verify(request: web.Request) -> web.Response:
    """POST /sandbox/verify: run Meta's webhook verification handshake against the bot."""
    state = state_of(request)
    body = await _json_body(request) if request.can_read_body else {}
    challenge = str(body.get("challenge") or secrets.randbelow(10**9))
    params = {
        "hub.mode": body.get("mode", "subscribe"),
        "hub.verify_token": body.get("verify_token", state.settings.verify_token),
        "hub.challenge": challenge,
    }
    assert state.poster is not None
    delivery = await state.poster.get(state.settings.webhook_url, params)
    ok = delivery.status == 200 and delivery.body.strip() == challenge
    return web.json_response(
        {
            "ok": ok,
            "status": delivery.status,
            "body": delivery.body,
            "challenge": challenge,
            "error": delivery.error,
        }
    )


async def list_inbound(request: web.Request) -> web.Response:
    """GET /sandbox/inbound?from=&since=: what simulated partners sent, in order."""
    state = state_of(request)
    since = _since(request)
    records = state.store.inbound(request.query.get("from") or None, since)
    return web.json_response(_listing(state, "messages", records, since))


# --- inspection ---------------------------------------------------------------------
async def list_messages(request: web.Request) -> web.Response:
    """GET /sandbox/messages?to=&since=: what the bot sent, in order, as Cloud API payloads."""
    state = state_of(request)
    since = _since(request)
    records = state.store.sent(request.query.get("to") or None, since)
    return web.json_response(_listing(state, "messages", records, since))


async def clear_messages(request: web.Request) -> web.Response:
    """DELETE /sandbox/messages[?to=]: forget sent and inbound messages and read receipts."""
    wa_id = request.query.get("to") or None
    state_of(request).store.clear(wa_id)
    log_event("sandbox.cleared", to=wa_id)
    return web.json_response({"cleared": True, "to": wa_id})


async def list_receipts(request: web.Request) -> web.Response:
    """GET /sandbox/read_receipts?wa_id=&since=: the mark-as-read calls the bot made."""
    state = state_of(request)
    since = _since(request)
    records = state.store.receipts(request.query.get("wa_id") or None, since)
    return web.json_response(_listing(state, "read_receipts", records, since))


async def conversation(request: web.Request) -> web.Response:
    """GET /sandbox/conversation?wa_id=&since=: both directions and read receipts, by seq.

    This is what the web phone polls; ``items[].direction`` is in, out or read.
    """
    state = state_of(request)
    wa_id = request.query.get("wa_id")
    if not wa_id:
        return _bad_request("wa_id is required")
    since = _since(request)
    store = state.store
    last_seq = store.last_seq()
    items = [{"direction": "in", **r.to_json()} for r in store.inbound(wa_id, since)]
    items += [{"direction": "out", **r.to_json()} for r in store.sent(wa_id, since)]
    items += [{"direction": "read", **r.to_json()} for r in store.receipts(wa_id, since)]
    items.sort(key=lambda item: item["seq"])
    last_seq = max([last_seq, since if isinstance(since, int) else 0, *(i["seq"] for i in items)])
    return web.json_response({"wa_id": wa_id, "items": items, "last_seq": last_seq})


async def partners(request: web.Request) -> web.Response:
    """GET /sandbox/partners: the five demo partners, the stranger, then ids seen in traffic."""
    return web.json_response({"partners": partner_list(state_of(request).store.seen_ids())})


# --- faults -------------------------------------------------------------------------
def _int_field(body: dict, key: str, default, low: int, high: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key} must be an integer between {low} and {high}")
    return value


async def add_fault(request: web.Request) -> web.Response:
    """POST /sandbox/faults.

    Body: ``{"status": 400-599 | "failed", "code"?, "count"?, "delay_ms"?, "scope"?}``.
    """
    state = state_of(request)
    body = await _json_body(request)
    status = body.get("status")
    failed = status == "failed"
    try:
        http_status = None if failed else _int_field(body, "status", None, 400, 599)
        delay_ms = _int_field(body, "delay_ms", 0, 0, 120_000) or 0
        count = _int_field(body, "count", 1, 1, 1_000_000)
        code = _int_field(body, "code", None, 0, 10**9)
    except ValueError as exc:
        return _bad_request(f'{exc} (status may also be "failed")')
    if http_status is None and not failed and not delay_ms:
        return _bad_request('give a status (400-599 or "failed") and/or delay_ms')
    scope = body.get("scope", "send")
    if scope not in FAULT_SCOPES:
        return _bad_request(f"scope must be one of {FAULT_SCOPES}")
    fault = state.store.add_fault(
        remaining=count,
        scope=scope,
        status=http_status,
        failed=failed,
        code=code,
        message=body.get("message"),
        details=body.get("details"),
        delay_ms=delay_ms,
    )
    summary = {k: v for k, v in fault.to_json().items() if k not in ("message", "details")}
    log_event("fault.added", **summary)
    return web.json_response({"fault": fault.to_json(), "faults": _faults(state)}, status=201)


def _faults(state: SandboxState) -> list[dict]:
    return [f.to_json() for f in state.store.faults()]


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": _faults(state_of(request))})


async def clear_faults(request: web.Request) -> web.Response:
    state_of(request).store.clear_faults()
    log_event("fault.cleared")
    return web.json_response({"faults": []})


# --- config -------------------------------------------------------------------------
PUBLIC_CONFIG = (
    "webhook_url",
    "public_url",
    "phone_number_id",
    "display_phone_number",
    "waba_id",
    "api_version",
    "statuses",
    "status_delay_ms",
    "enforce_24h",
)
EDITABLE = {"webhook_url": str, "statuses": bool, "status_delay_ms": int, "enforce_24h": bool}


def _config(state: SandboxState) -> dict:
    return {key: getattr(state.settings, key) for key in PUBLIC_CONFIG}


async def get_config(request: web.Request) -> web.Response:
    """GET /sandbox/config (secrets left out)."""
    return web.json_response(_config(state_of(request)))


async def patch_config(request: web.Request) -> web.Response:
    """PATCH /sandbox/config: change webhook_url, statuses, status_delay_ms, enforce_24h."""
    state = state_of(request)
    body = await _json_body(request)
    for key, value in body.items():
        kind = EDITABLE.get(key)
        if kind is None:
            return _bad_request(f"{key} cannot be changed; editable: {sorted(EDITABLE)}")
        if type(value) is not kind:
            return _bad_request(f"{key} must be {kind.__name__}")
    for key, value in body.items():
        setattr(state.settings, key, value)
    log_event("config.changed", **{k: v for k, v in body.items() if k != "webhook_url"})
    return web.json_response(_config(state))


# --- media for the web phone (no token: the phone is not the bot) ---------------------
async def phone_upload(request: web.Request) -> web.Response:
    """POST /sandbox/media (multipart ``file``): store a photo the phone's user picked."""
    state = state_of(request)
    try:
        media = store_upload(state, await read_upload(request))
    except PayloadError as exc:
        return _bad_request(exc.details)
    log_event("phone.media_uploaded", id=media.id, mime_type=media.mime_type, bytes=media.file_size)
    return web.json_response(
        {
            "id": media.id,
            "mime_type": media.mime_type,
            "sha256": media.sha256_hex,
            "file_size": media.file_size,
        },
        status=201,
    )


async def phone_media(request: web.Request) -> web.Response:
    """GET /sandbox/media/{media_id}: the bytes, for the phone to show images."""
    media = state_of(request).store.get_media(request.match_info["media_id"])
    if media is None:
        return web.json_response({"error": "unknown media id"}, status=404)
    return web.Response(
        body=media.data,
        content_type=media.mime_type.split(";")[0],
        headers={"Cache-Control": "max-age=3600"},
    )


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", index)
    r.add_get("/sandbox/health", health)
    r.add_post("/sandbox/inbound", inbound)
    r.add_get("/sandbox/inbound", list_inbound)
    r.add_post("/sandbox/inbound/raw", inbound_raw)
    r.add_post("/sandbox/verify", verify)
    r.add_get("/sandbox/messages", list_messages)
    r.add_delete("/sandbox/messages", clear_messages)
    r.add_get("/sandbox/read_receipts", list_receipts)
    r.add_get("/sandbox/conversation", conversation)
    r.add_get("/sandbox/partners", partners)
    r.add_post("/sandbox/faults", add_fault)
    r.add_get("/sandbox/faults", list_faults)
    r.add_delete("/sandbox/faults", clear_faults)
    for path in ("/sandbox/config", "/sandbox/settings"):  # "settings" is an alias
        r.add_get(path, get_config)
        r.add_patch(path, patch_config)
        r.add_post(path, patch_config)
    r.add_post("/sandbox/media", phone_upload)
    r.add_get("/sandbox/media/{media_id}", phone_media)
