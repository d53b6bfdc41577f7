"""The fake Graph API: Meta's paths, auth, validation, response and error shapes."""

from __future__ import annotations

import asyncio
import hmac
import re
import time

from aiohttp import web

from sandbox.errors import PayloadError, default_code, graph_error, invalid_token
from sandbox.limits import READ, recipient_of, validate_send
from sandbox.logs import log_event
from sandbox.media import EXTENSIONS, MAX_BYTES, media_kind
from sandbox.state import SandboxState, state_of
from sandbox.statuses import deliver_statuses
from sandbox.store import CONVERSATION_SECONDS, Fault

VERSION = r"{version:v\d+\.\d+}"
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]+$")
_MEDIA_TYPES = ("image", "audio", "video", "sticker", "document")


def normalize_to(to: str) -> str:
    """Meta's ``wa_id`` for a ``to``: digits only for phone numbers, other ids unchanged."""
    if _PHONE_LIKE.match(to):
        return re.sub(r"\D", "", to)
    return to


def authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


def _unknown_object(method: str, object_id: str) -> web.Response:
    return graph_error(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        details="",
        error_type="GraphMethodException",
        subcode=33,
    )


def _check_version(state: SandboxState, request: web.Request) -> None:
    version = request.match_info["version"]
    if version != state.settings.api_version:
        log_event(
            "graph.version_mismatch", requested=version, configured=state.settings.api_version
        )


async def _apply_fault(state: SandboxState, scope: str) -> tuple[Fault | None, web.Response | None]:
    """Consume a matching fault: wait its delay, and answer with its error if it has one."""
    fault = state.store.take_fault(scope)
    if fault is None:
        return None, None
    if fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault.status is not None and not fault.failed:
        code = fault.code or default_code(fault.status)
        log_event("graph.fault", scope=scope, status=fault.status, code=code, left=fault.remaining)
        return fault, graph_error(fault.status, code, fault.message, details=fault.details)
    return fault, None


async def send_message(request: web.Request) -> web.Response:
    """POST /{version}/{phone_number_id}/messages"""
    state = state_of(request)
    settings, store = state.settings, state.store
    if not authorized(request, settings.access_token):
        log_event("graph.unauthorized", path="messages")
        return invalid_token()
    if request.match_info["phone_number_id"] != settings.phone_number_id:
        return _unknown_object("post", request.match_info["phone_number_id"])
    _check_version(state, request)
    try:
        payload = await request.json()
    except ValueError:
        return graph_error(
            400, 100, "(#100) Invalid parameter", details="Request body is not valid JSON."
        )
    try:
        kind = validate_send(payload)
        to = None if kind == READ else normalize_to(recipient_of(payload))
        if to is not None and to == normalize_to(settings.display_phone_number):
            raise PayloadError(131021, "Sender and recipient phone number is the same.")
    except PayloadError as exc:
        log_event(
            "graph.rejected",
            code=exc.code,
            details=exc.details,
            to=recipient_of(payload) if isinstance(payload, dict) else None,
        )
        return exc.response()

    fault, error_response = await _apply_fault(state, "read" if kind == READ else "send")
    if error_response is not None:
        return error_response

    if kind == READ:
        receipt = store.add_receipt(payload)
        log_event(
            "graph.read_receipt",
            message_id=receipt.message_id,
            wa_id=receipt.wa_id,
            typing=bool(payload.get("typing_indicator")),
        )
        return web.json_response({"success": True})

    assert to is not None
    record = store.add_sent(to, kind, payload)
    failure_code, failure_details = _failure_for(state, record.to, kind, payload, fault)
    log_event("graph.sent", id=record.id, to=to, type=kind, seq=record.seq, failure=failure_code)
    if settings.statuses:
        state.spawn(deliver_statuses(state, record, failure_code, failure_details))
    message: dict = {"id": record.id}
    if kind == "template":
        message["message_status"] = "accepted"
    return web.json_response(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": recipient_of(payload), "wa_id": to}],
            "messages": [message],
        }
    )


def _failure_for(
    state: SandboxState, to: str, kind: str, payload: dict, fault: Fault | None
) -> tuple[int | None, str | None]:
    """Why Meta would accept this send and then report it ``failed`` (code, details)."""
    if fault is not None and fault.failed:
        return fault.code or 131026, fault.details
    if state.settings.enforce_24h and kind != "template":
        last = state.store.last_inbound_ts(to)
        if last is None or time.time() - last > CONVERSATION_SECONDS:
            return 131047, None
    if kind in _MEDIA_TYPES:
        media_id = payload[kind].get("id")
        if media_id and state.store.get_media(str(media_id)) is None:
            return 131053, f"Media id {media_id} was not found."
    return None, None


async def upload_media(request: web.Request) -> web.Response:
    """POST /{version}/{phone_number_id}/media (multipart: file, type, messaging_product)"""
    state = state_of(request)
    settings = state.settings
    if not authorized(request, settings.access_token):
        log_event("graph.unauthorized", path="media")
        return invalid_token()
    if request.match_info["phone_number_id"] != settings.phone_number_id:
        return _unknown_object("post", request.match_info["phone_number_id"])
    _check_version(state, request)
    try:
        form = await read_upload(request)
    except PayloadError as exc:
        return exc.response()
    if form.get("messaging_product") != "whatsapp":
        return PayloadError(
            100,
            "The parameter messaging_product is required.",
            "(#100) The parameter messaging_product is required.",
        ).response()
    _, error_response = await _apply_fault(state, "media")
    if error_response is not None:
        return error_response
    try:
        media = store_upload(state, form)
    except PayloadError as exc:
        return exc.response()
    log_event("graph.media_uploaded", id=media.id, mime_type=media.mime_type, bytes=media.file_size)
    return web.json_response({"id": media.id})


async def read_upload(request: web.Request, max_bytes: int = max(MAX_BYTES.values())) -> dict:
    """Multipart fields: file (bytes), filename, file_type, type, messaging_product."""
    if not request.content_type.startswith("multipart/"):
        raise PayloadError(
            100, "Upload must be multipart/form-data with a file part.", "(#100) Invalid parameter"
        )
    form: dict = {}
    reader = await request.multipart()
    async for part in reader:
        if part.name == "file":
            chunks, size = [], 0
            while chunk := await part.read_chunk(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadError(131053, f"File is larger than {max_bytes} bytes.")
                chunks.append(chunk)
            form["file"] = b"".join(chunks)
            form["filename"] = part.filename
            form["file_type"] = part.headers.get("Content-Type")
        elif part.name:
            form[part.name] = await part.text()
    return form


def store_upload(state: SandboxState, form: dict):
    """Check type and size like Meta (131053 when refused) and store the media."""
    if "file" not in form:
        raise PayloadError(
            100, "The parameter file is required.", "(#100) The parameter file is required."
        )
    mime_type = (form.get("type") or form.get("file_type") or "").strip()
    if not mime_type:
        raise PayloadError(
            100, "The parameter type is required.", "(#100) The parameter type is required."
        )
    kind = media_kind(mime_type)
    if kind is None:
        raise PayloadError(131053, f"Param file must be of a supported type, got {mime_type}.")
    if len(form["file"]) > MAX_BYTES[kind]:
        raise PayloadError(
            131053, f"File size is too big. Max size for {kind}: {MAX_BYTES[kind]} bytes."
        )
    if not form["file"]:
        raise PayloadError(131053, "The file is empty.")
    return state.store.add_media(form["file"], mime_type, form.get("filename"))


def media_url(state: SandboxState, media) -> str:
    ext = EXTENSIONS.get(media.mime_type.split(";")[0], "bin")
    return (
        f"{state.settings.public_url}/whatsapp_business/attachments/"
        f"?mid={media.id}&ext={int(time.time())}&hash={media.download_key}&type={ext}"
    )


async def get_media(request: web.Request) -> web.Response:
    """GET /{version}/{media_id} -> url, mime_type, sha256, file_size, id, messaging_product"""
    state = state_of(request)
    if not authorized(request, state.settings.access_token):
        log_event("graph.unauthorized", path="media_url")
        return invalid_token()
    _, error_response = await _apply_fault(state, "media")
    if error_response is not None:
        return error_response
    media = state.store.get_media(request.match_info["media_id"])
    if media is None:
        return _unknown_object("get", request.match_info["media_id"])
    return web.json_response(
        {
            "url": media_url(state, media),
            "mime_type": media.mime_type,
            "sha256": media.sha256_hex,
            "file_size": media.file_size,
            "id": media.id,
            "messaging_product": "whatsapp",
        }
    )


async def delete_media(request: web.Request) -> web.Response:
    """DELETE /{version}/{media_id}"""
    state = state_of(request)
    if not authorized(request, state.settings.access_token):
        return invalid_token()
    if not state.store.delete_media(request.match_info["media_id"]):
        return _unknown_object("delete", request.match_info["media_id"])
    return web.json_response({"success": True})


async def download_media(request: web.Request) -> web.Response:
    """GET /whatsapp_business/attachments/?mid=..&hash=.. (URL from get_media; needs the token)"""
    state = state_of(request)
    if not authorized(request, state.settings.access_token):
        log_event("graph.unauthorized", path="media_download")
        return invalid_token()
    media = state.store.media_by_key(request.query.get("hash", ""))
    if media is None or media.id != request.query.get("mid"):
        return web.Response(status=404, text="Not Found")
    return web.Response(body=media.data, content_type=media.mime_type.split(";")[0])


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"/{VERSION}/{{phone_number_id}}/messages", send_message)
    app.router.add_post(f"/{VERSION}/{{phone_number_id}}/media", upload_media)
    app.router.add_get(f"/{VERSION}/{{media_id}}", get_media)
    app.router.add_delete(f"/{VERSION}/{{media_id}}", delete_media)
    app.router.add_get("/whatsapp_business/attachments/", download_media)
