"""WhatsApp sandbox over real HTTP: fake Graph API, partner simulator, inspection, faults."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import socket
import time
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web

from sandbox.app import create_app
from sandbox.logs import mask_text, mask_wa_id
from sandbox.settings import Settings

SECRET = "test-app-secret"
TOKEN = "test-access-token"
PHONE_ID = "100000000000001"
VERSION = "v21.0"
BUDI = "6281200000001"
SARAH = "6281200000002"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    sock = _free_socket()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


class Receiver:
    """Stands in for the bot's webhook: checks the signature like the connector must."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        header = request.headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(header, expected)
        self.requests.append(
            {"raw": raw, "headers": dict(request.headers), "json": _loads(raw), "valid": valid}
        )
        if not valid:
            return web.Response(status=401, text="bad signature")
        return web.Response(status=self.status, text="ok")

    def messages(self) -> list[dict]:
        return [r for r in self.requests if r["json"] and "messages" in _value(r["json"])]

    def statuses(self) -> list[dict]:
        return [
            _value(r["json"])["statuses"][0]
            for r in self.requests
            if r["json"] and "statuses" in _value(r["json"])
        ]

    async def wait_for(self, predicate, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {len(self.requests)} webhooks")
            await asyncio.sleep(0.01)


def _loads(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _value(body: dict) -> dict:
    return body["entry"][0]["changes"][0]["value"]


@pytest.fixture
async def receiver():
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/whatsapp/webhook", rec.handle)
    runner, base = await _serve(app)
    rec.url = f"{base}/webhooks/whatsapp/webhook"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def sandbox(receiver):
    sock = _free_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        app_secret=SECRET,
        access_token=TOKEN,
        phone_number_id=PHONE_ID,
        api_version=VERSION,
        webhook_url=receiver.url,
        public_url=base,
        status_delay_ms=5,
    )
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    async with aiohttp.ClientSession(base_url=base) as client:
        yield client
    await runner.cleanup()


def text_msg(to: str = BUDI, body: str = "Halo Budi") -> dict:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


def buttons_msg(to: str = BUDI, titles=("Cek poin", "Klaim", "Hadiah")) -> dict:
    buttons = [
        {"type": "reply", "reply": {"id": f"/intent_{i}", "title": title}}
        for i, title in enumerate(titles)
    ]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Mau apa hari ini?"},
            "action": {"buttons": buttons},
        },
    }


def list_msg(to: str = BUDI, rows: int = 10, title="Row", description="d", label="Menu") -> dict:
    items = [{"id": "/row_0", "title": f"{title}0", "description": description}]
    items += [{"id": f"/row_{i}", "title": f"Row {i}"} for i in range(1, rows)]
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Pilih menu"},
            "action": {"button": label, "sections": [{"title": "Menu", "rows": items}]},
        },
    }


async def send(client, payload: dict, headers=AUTH, phone_id: str = PHONE_ID):
    resp = await client.post(f"/{VERSION}/{phone_id}/messages", json=payload, headers=headers)
    return resp.status, await resp.json()


async def get_json(client, path: str, **params) -> dict:
    resp = await client.get(path, params=params)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def post_json(client, path: str, body: dict) -> dict:
    return await (await client.post(path, json=body)).json()


# --- fake Graph API -------------------------------------------------------------------
async def test_send_returns_wamid_and_records_payload(sandbox):
    status, body = await send(sandbox, text_msg())
    assert status == 200
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": BUDI, "wa_id": BUDI}]
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")

    listing = await get_json(sandbox, "/sandbox/messages", to=BUDI)
    assert [m["id"] for m in listing["messages"]] == [wamid]
    record = listing["messages"][0]
    assert record["payload"] == text_msg()
    datetime.fromisoformat(record["received_at"])

    _, second = await send(sandbox, text_msg(body="lagi"))
    assert second["messages"][0]["id"] != wamid


async def test_plus_prefixed_recipient_is_normalised(sandbox):
    _, body = await send(sandbox, text_msg(to="+" + BUDI))
    assert body["contacts"] == [{"input": "+" + BUDI, "wa_id": BUDI}]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
async def test_wrong_or_missing_token_is_401_graph_error(sandbox, headers):
    status, body = await send(sandbox, text_msg(), headers=headers)
    assert status == 401
    error = body["error"]
    assert error["type"] == "OAuthException" and error["code"] == 190
    assert error["message"] and error["fbtrace_id"]
    listing = await get_json(sandbox, "/sandbox/messages")
    assert listing["messages"] == []


async def test_unknown_phone_number_id_is_graph_error(sandbox):
    status, body = await send(sandbox, text_msg(), phone_id="999")
    assert status == 400
    assert body["error"]["code"] == 100 and "999" in body["error"]["message"]


def _with(payload: dict, **changes) -> dict:
    return {**payload, **changes}


INVALID = {
    "no messaging_product": ({"to": BUDI, "type": "text", "text": {"body": "x"}}, 100),
    "wrong messaging_product": (_with(text_msg(), messaging_product="sms"), 100),
    "no to": ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, 100),
    "unknown type": (_with(text_msg(), type="carousel"), 100),
    "text too long": (text_msg(body="x" * 4097), 100),
    "empty text": (text_msg(body=""), 100),
    "four buttons": (buttons_msg(titles=("a", "b", "c", "d")), 131009),
    "no buttons": (buttons_msg(titles=()), 131009),
    "button title 21": (buttons_msg(titles=("x" * 21,)), 131009),
    "duplicate button titles": (buttons_msg(titles=("Ya", "Ya")), 131009),
    "eleven rows": (list_msg(rows=11), 131009),
    "row title 25": (list_msg(title="x" * 24), 131009),
    "row description 73": (list_msg(description="x" * 73), 131009),
    "list label 21": (list_msg(label="x" * 21), 131009),
    "image without id or link": (
        {"messaging_product": "whatsapp", "to": BUDI, "type": "image", "image": {}},
        100,
    ),
    "template without language": (
        {
            "messaging_product": "whatsapp",
            "to": BUDI,
            "type": "template",
            "template": {"name": "x"},
        },
        131008,
    ),
}


@pytest.mark.parametrize("payload,code", INVALID.values(), ids=INVALID.keys())
async def test_limit_violations_are_400_graph_errors(sandbox, payload, code):
    status, body = await send(sandbox, payload)
    assert status == 400, body
    assert body["error"]["code"] == code
    assert body["error"]["message"] and body["error"]["fbtrace_id"]
    listing = await get_json(sandbox, "/sandbox/messages")
    assert listing["messages"] == []


VALID_AT_LIMITS = {
    "text 4096": text_msg(body="x" * 4096),
    "three 20-char buttons": buttons_msg(titles=("a" * 20, "b" * 20, "c" * 20)),
    "ten rows, 24/72 chars": list_msg(
        rows=10, title="x" * 23, description="y" * 72, label="z" * 20
    ),
    "image by link": {
        "messaging_product": "whatsapp",
        "to": BUDI,
        "type": "image",
        "image": {"link": "http://example.invalid/a.png", "caption": "invoice"},
    },
    "template": {
        "messaging_product": "whatsapp",
        "to": BUDI,
        "type": "template",
        "template": {"name": "points_expiring", "language": {"code": "id"}, "components": []},
    },
    "location": {
        "messaging_product": "whatsapp",
        "to": BUDI,
        "type": "location",
        "location": {"latitude": -6.175, "longitude": 106.827, "name": "Monas"},
    },
    "type defaults to text": {"messaging_product": "whatsapp", "to": BUDI, "text": {"body": "x"}},
}


@pytest.mark.parametrize("payload", VALID_AT_LIMITS.values(), ids=VALID_AT_LIMITS.keys())
async def test_payloads_at_the_limits_are_accepted(sandbox, payload):
    status, body = await send(sandbox, payload)
    assert status == 200, body
    assert body["messages"][0]["id"].startswith("wamid.")


async def test_read_receipt_is_recorded_separately(sandbox, receiver):
    inbound = await post_json(sandbox, "/sandbox/inbound", {"from": BUDI, "text": "p"})
    receipt = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": inbound["message_id"],
        "typing_indicator": {"type": "text"},
    }
    status, body = await send(sandbox, receipt)
    assert (status, body) == (200, {"success": True})

    assert (await get_json(sandbox, "/sandbox/messages"))["messages"] == []
    receipts = (await get_json(sandbox, "/sandbox/read_receipts"))["read_receipts"]
    assert [r["message_id"] for r in receipts] == [inbound["message_id"]]
    assert receipts[0]["wa_id"] == BUDI and receipts[0]["typing_indicator"] is True
    listing = await (await sandbox.get("/sandbox/inbound", params={"from": BUDI})).json()
    assert listing["messages"][0]["read"] is True

    status, body = await send(sandbox, {"messaging_product": "whatsapp", "status": "read"})
    assert status == 400 and body["error"]["code"] == 100


# --- media ----------------------------------------------------------------------------
def _upload_form(data: bytes, mime: str = "image/png", product: str | None = "whatsapp"):
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename="invoice.png", content_type=mime)
    form.add_field("type", mime)
    if product:
        form.add_field("messaging_product", product)
    return form


async def test_media_upload_get_and_download_with_token_check(sandbox):
    data = b"\x89PNG\r\n\x1a\n" + b"fake image bytes" * 10
    path = f"/{VERSION}/{PHONE_ID}/media"
    resp = await sandbox.post(path, data=_upload_form(data))
    assert resp.status == 401
    resp = await sandbox.post(path, data=_upload_form(data, product=None), headers=AUTH)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == 100
    resp = await sandbox.post(
        path, data=_upload_form(data, mime="application/x-msdownload"), headers=AUTH
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == 131053

    resp = await sandbox.post(path, data=_upload_form(data), headers=AUTH)
    assert resp.status == 200
    media_id = (await resp.json())["id"]
    assert media_id.isdigit()

    assert (await sandbox.get(f"/{VERSION}/{media_id}")).status == 401
    resp = await sandbox.get(f"/{VERSION}/{media_id}", headers=AUTH)
    info = await resp.json()
    assert set(info) == {"url", "mime_type", "sha256", "file_size", "id", "messaging_product"}
    assert info["id"] == media_id and info["mime_type"] == "image/png"
    assert info["file_size"] == len(data)
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["url"].startswith(str(sandbox._base_url))

    async with aiohttp.ClientSession() as plain:
        async with plain.get(info["url"]) as resp:
            assert resp.status == 401
        async with plain.get(info["url"], headers={"Authorization": "Bearer nope"}) as resp:
            assert resp.status == 401
        async with plain.get(info["url"], headers=AUTH) as resp:
            assert resp.status == 200
            assert resp.content_type == "image/png"
            assert await resp.read() == data

    resp = await sandbox.get(f"/{VERSION}/123456", headers=AUTH)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == 100


async def test_send_with_uploaded_media_id(sandbox, receiver):
    form = _upload_form(b"%PDF-1.4 tiny", mime="application/pdf")
    resp = await sandbox.post(f"/{VERSION}/{PHONE_ID}/media", data=form, headers=AUTH)
    media_id = (await resp.json())["id"]
    payload = {
        "messaging_product": "whatsapp",
        "to": BUDI,
        "type": "document",
        "document": {"id": media_id, "filename": "poin.pdf", "caption": "Rekap poin"},
    }
    status, body = await send(sandbox, payload)
    assert status == 200
    await receiver.wait_for(lambda: len(receiver.statuses()) == 3)
    assert [s["status"] for s in receiver.statuses()] == ["sent", "delivered", "read"]

    # an unknown media id is accepted, then reported failed like Meta (131053)
    payload["document"]["id"] = "4040404040"
    await send(sandbox, payload)
    await receiver.wait_for(lambda: receiver.statuses()[-1]["status"] == "failed")
    assert receiver.statuses()[-1]["errors"][0]["code"] == 131053


# --- faults ---------------------------------------------------------------------------
async def test_rate_limit_fault_three_times_then_success(sandbox):
    resp = await sandbox.post("/sandbox/faults", json={"status": 429, "count": 3})
    assert resp.status == 201
    for _ in range(3):
        status, body = await send(sandbox, text_msg())
        assert status == 429
        assert body["error"]["code"] == 130429
        assert "Rate limit hit" in body["error"]["message"]
        assert body["error"]["type"] == "OAuthException" and body["error"]["fbtrace_id"]
    status, body = await send(sandbox, text_msg())
    assert status == 200 and body["messages"][0]["id"]
    listing = await get_json(sandbox, "/sandbox/messages")
    assert len(listing["messages"]) == 1


async def test_server_error_and_permanent_faults(sandbox):
    await sandbox.post("/sandbox/faults", json={"status": 500})
    await sandbox.post("/sandbox/faults", json={"status": 503})
    await sandbox.post("/sandbox/faults", json={"status": 400, "code": 131047, "count": 1})
    faults = (await get_json(sandbox, "/sandbox/faults"))["faults"]
    assert [f["status"] for f in faults] == [500, 503, 400]

    status, body = await send(sandbox, text_msg())
    assert (status, body["error"]["code"]) == (500, 1)
    status, body = await send(sandbox, text_msg())
    assert (status, body["error"]["code"]) == (503, 2)
    status, body = await send(sandbox, text_msg())
    assert (status, body["error"]["code"]) == (400, 131047)
    assert "Re-engagement" in body["error"]["message"]
    assert (await send(sandbox, text_msg()))[0] == 200


async def test_delay_fault_and_clear(sandbox):
    await sandbox.post("/sandbox/faults", json={"delay_ms": 300, "count": 2})
    for _ in range(2):
        started = time.perf_counter()
        status, _ = await send(sandbox, text_msg())
        assert status == 200 and time.perf_counter() - started >= 0.29
    started = time.perf_counter()
    await send(sandbox, text_msg())
    assert time.perf_counter() - started < 0.25

    await sandbox.post("/sandbox/faults", json={"status": 429, "count": 5})
    resp = await sandbox.delete("/sandbox/faults")
    assert (await resp.json()) == {"faults": []}
    assert (await send(sandbox, text_msg()))[0] == 200


async def test_fault_requests_are_validated(sandbox):
    for bad in ({}, {"status": 200}, {"status": 429, "count": 0}, {"status": 429, "scope": "x"}):
        assert (await sandbox.post("/sandbox/faults", json=bad)).status == 400


async def test_failed_fault_posts_failed_status(sandbox, receiver):
    await sandbox.post("/sandbox/faults", json={"status": "failed", "code": 131026})
    status, body = await send(sandbox, text_msg())
    assert status == 200
    wamid = body["messages"][0]["id"]
    await receiver.wait_for(lambda: len(receiver.statuses()) >= 1)
    await asyncio.sleep(0.05)
    statuses = receiver.statuses()
    assert [s["status"] for s in statuses] == ["failed"]
    assert statuses[0]["id"] == wamid and statuses[0]["recipient_id"] == BUDI
    assert statuses[0]["errors"][0]["code"] == 131026 and statuses[0]["errors"][0]["title"]


async def test_read_receipts_do_not_consume_send_faults(sandbox):
    await sandbox.post("/sandbox/faults", json={"status": 429, "count": 1})
    receipt = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x"}
    assert (await send(sandbox, receipt))[0] == 200
    assert (await send(sandbox, text_msg()))[0] == 429


# --- partner simulator ----------------------------------------------------------------
async def test_inbound_text_posts_signed_cloud_api_webhook(sandbox, receiver):
    resp = await sandbox.post(
        "/sandbox/inbound", json={"from": BUDI, "name": "Budi", "text": "cek poin dong / 🙏"}
    )
    assert resp.status == 200
    result = await resp.json()
    assert result["webhook_status"] == 200 and isinstance(result["webhook_ms"], float)
    assert result["message_id"].startswith("wamid.")

    [request] = receiver.requests
    raw = request["raw"]
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert request["headers"]["X-Hub-Signature-256"] == expected
    assert request["headers"]["Content-Type"] == "application/json"
    assert b"\\/" in raw and b"\\ud83d" in raw  # Meta escapes '/' and non-ASCII

    body = request["json"]
    assert body["object"] == "whatsapp_business_account"
    change = body["entry"][0]["changes"][0]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"]["phone_number_id"] == PHONE_ID
    assert value["metadata"]["display_phone_number"]
    assert value["contacts"] == [{"profile": {"name": "Budi"}, "wa_id": BUDI}]
    [message] = value["messages"]
    assert message["from"] == BUDI and message["id"] == result["message_id"]
    assert message["type"] == "text" and message["text"] == {"body": "cek poin dong / 🙏"}
    assert abs(int(message["timestamp"]) - time.time()) < 5


async def test_inbound_default_profile_name_and_forced_message_id(sandbox, receiver):
    for _ in range(2):
        result = await (
            await sandbox.post(
                "/sandbox/inbound", json={"from": SARAH, "text": "hi", "message_id": "wamid.SAME"}
            )
        ).json()
        assert result["message_id"] == "wamid.SAME"
    ids = [_value(r["json"])["messages"][0]["id"] for r in receiver.messages()]
    assert ids == ["wamid.SAME", "wamid.SAME"]
    assert _value(receiver.messages()[0]["json"])["contacts"][0]["profile"]["name"] == (
        "Sarah Wijaya"
    )


async def test_button_and_list_replies_quote_the_bot_message(sandbox, receiver):
    _, sent_buttons = await send(sandbox, buttons_msg())
    _, sent_list = await send(sandbox, list_msg())
    await sandbox.post(
        "/sandbox/inbound",
        json={"from": BUDI, "button_reply": {"id": "/intent_1", "title": "Klaim"}},
    )
    await sandbox.post(
        "/sandbox/inbound",
        json={"from": BUDI, "list_reply": {"id": "/row_0", "title": "Row0", "description": "d"}},
    )
    button, row = (_value(r["json"])["messages"][0] for r in receiver.messages())
    assert button["type"] == "interactive"
    assert button["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "/intent_1", "title": "Klaim"},
    }
    assert button["context"]["id"] == sent_buttons["messages"][0]["id"]
    assert row["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "/row_0", "title": "Row0", "description": "d"},
    }
    assert row["context"]["id"] == sent_list["messages"][0]["id"]


async def test_template_quick_reply_button(sandbox, receiver):
    await sandbox.post(
        "/sandbox/inbound",
        json={"from": BUDI, "button": {"payload": "/check_balance", "text": "Cek"}},
    )
    message = _value(receiver.messages()[0]["json"])["messages"][0]
    assert message["type"] == "button"
    assert message["button"] == {"payload": "/check_balance", "text": "Cek"}


async def test_inbound_image_generates_media_the_bot_can_fetch(sandbox, receiver):
    result = await post_json(
        sandbox, "/sandbox/inbound", {"from": BUDI, "image": {"caption": "INV-1"}}
    )
    assert result["webhook_status"] == 200
    message = _value(receiver.messages()[0]["json"])["messages"][0]
    assert message["type"] == "image"
    image = message["image"]
    assert image["caption"] == "INV-1" and image["mime_type"] == "image/png"
    assert image["id"] and image["sha256"]

    info = await (await sandbox.get(f"/{VERSION}/{image['id']}", headers=AUTH)).json()
    async with aiohttp.ClientSession() as plain:
        async with plain.get(info["url"], headers=AUTH) as resp:
            data = await resp.read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert hashlib.sha256(data).hexdigest() == info["sha256"]

    # two generated photos differ (duplicate-photo checks must not fire by accident) ...
    await sandbox.post("/sandbox/inbound", json={"from": BUDI, "image": {}})
    other = _value(receiver.messages()[1]["json"])["messages"][0]["image"]
    assert other["sha256"] != image["sha256"]
    # ... unless a test asks for the same picture on purpose
    for _ in range(2):
        await sandbox.post("/sandbox/inbound", json={"from": BUDI, "image": {"seed": 7}})
    same = [_value(r["json"])["messages"][0]["image"]["sha256"] for r in receiver.messages()[2:]]
    assert same[0] == same[1]


async def test_inbound_image_with_uploaded_media_id(sandbox, receiver):
    form = aiohttp.FormData()
    form.add_field("file", b"\xff\xd8\xffjpeg", filename="nota.jpg", content_type="image/jpeg")
    uploaded = await (await sandbox.post("/sandbox/media", data=form)).json()
    await sandbox.post(
        "/sandbox/inbound", json={"from": BUDI, "image": {"media_id": uploaded["id"]}}
    )
    image = _value(receiver.messages()[0]["json"])["messages"][0]["image"]
    assert image["id"] == uploaded["id"] and image["mime_type"] == "image/jpeg"
    assert "caption" not in image
    resp = await sandbox.get(f"/sandbox/media/{uploaded['id']}")
    assert resp.status == 200 and await resp.read() == b"\xff\xd8\xffjpeg"


async def test_inbound_location_and_other_types(sandbox, receiver):
    location = {"latitude": -6.2, "longitude": 106.8, "name": "Toko", "address": "Jl. Sudirman"}
    await sandbox.post("/sandbox/inbound", json={"from": BUDI, "location": location})
    for kind in ("audio", "sticker", "video", "document", "contacts", "unsupported"):
        resp = await sandbox.post("/sandbox/inbound", json={"from": BUDI, "type": kind})
        assert resp.status == 200, await resp.text()
    messages = [_value(r["json"])["messages"][0] for r in receiver.messages()]
    assert messages[0]["type"] == "location" and messages[0]["location"] == location
    assert [m["type"] for m in messages[1:]] == [
        "audio",
        "sticker",
        "video",
        "document",
        "contacts",
        "unsupported",
    ]
    audio, sticker = messages[1]["audio"], messages[2]["sticker"]
    assert audio["voice"] is True and audio["mime_type"].startswith("audio/ogg")
    assert sticker["mime_type"] == "image/webp" and sticker["animated"] is False
    assert messages[4]["document"]["filename"].endswith(".pdf")
    assert messages[6]["errors"][0]["code"] == 131051


async def test_inbound_reaction_defaults_to_latest_bot_message(sandbox, receiver):
    _, sent = await send(sandbox, text_msg())
    await sandbox.post("/sandbox/inbound", json={"from": BUDI, "reaction": {"emoji": "👍"}})
    message = _value(receiver.messages()[0]["json"])["messages"][0]
    assert message["reaction"] == {"message_id": sent["messages"][0]["id"], "emoji": "👍"}


async def test_inbound_rejects_malformed_requests(sandbox):
    for bad in (
        {"text": "no sender"},
        {"from": BUDI},
        {"from": BUDI, "type": "hologram"},
        {"from": BUDI, "location": {"latitude": "x"}},
    ):
        resp = await sandbox.post("/sandbox/inbound", json=bad)
        assert resp.status == 400 and "error" in await resp.json()


@pytest.mark.parametrize("signature,expected", [("valid", 200), ("bad", 401), ("none", 401)])
async def test_raw_inbound_signatures(sandbox, receiver, signature, expected):
    body = {"object": "whatsapp_business_account", "entry": []}
    resp = await sandbox.post("/sandbox/inbound/raw", json={"body": body, "signature": signature})
    result = await resp.json()
    assert result["webhook_status"] == expected
    [request] = receiver.requests
    assert request["json"] == body
    assert ("X-Hub-Signature-256" in request["headers"]) == (signature != "none")
    assert request["valid"] == (signature == "valid")


async def test_raw_inbound_string_body_is_sent_verbatim(sandbox, receiver):
    await sandbox.post("/sandbox/inbound/raw", json={"body": "{not json"})
    assert receiver.requests[0]["raw"] == b"{not json" and receiver.requests[0]["valid"]


async def test_unreachable_bot_is_reported(sandbox):
    free = _free_socket()
    port = free.getsockname()[1]
    free.close()
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp/webhook"
    await sandbox.patch("/sandbox/config", json={"webhook_url": url})
    resp = await sandbox.post("/sandbox/inbound", json={"from": BUDI, "text": "halo"})
    assert resp.status == 502
    result = await resp.json()
    assert result["webhook_status"] == 0 and url in result["error"]


# --- statuses -------------------------------------------------------------------------
async def test_statuses_posted_in_order_after_send(sandbox, receiver):
    _, body = await send(sandbox, text_msg())
    wamid = body["messages"][0]["id"]
    await receiver.wait_for(lambda: len(receiver.statuses()) == 3)
    statuses = receiver.statuses()
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert all(s["id"] == wamid and s["recipient_id"] == BUDI for s in statuses)
    assert all(r["valid"] for r in receiver.requests)
    sent = statuses[0]
    assert sent["conversation"]["id"] and sent["conversation"]["expiration_timestamp"]
    assert sent["conversation"]["origin"] == {"type": "service"}
    assert sent["pricing"] == {"billable": True, "pricing_model": "CBP", "category": "service"}
    assert int(statuses[0]["timestamp"]) <= int(statuses[2]["timestamp"])
    value = _value(receiver.requests[0]["json"])
    assert value["metadata"]["phone_number_id"] == PHONE_ID and "messages" not in value

    await asyncio.sleep(0.02)
    record = (await get_json(sandbox, "/sandbox/messages"))["messages"][0]
    assert record["status"] == "read"
    assert [s["status"] for s in record["statuses"]] == ["sent", "delivered", "read"]


@pytest.mark.parametrize(
    "method,path", [("PATCH", "/sandbox/config"), ("POST", "/sandbox/settings")]
)
async def test_statuses_can_be_switched_off(sandbox, receiver, method, path):
    resp = await sandbox.request(method, path, json={"statuses": False})
    assert (await resp.json())["statuses"] is False
    await send(sandbox, text_msg())
    await asyncio.sleep(0.1)
    assert receiver.statuses() == []
    assert (await sandbox.patch("/sandbox/config", json={"statuses": "no"})).status == 400
    assert (await sandbox.patch("/sandbox/config", json={"app_secret": "x"})).status == 400


async def test_enforced_24h_window_fails_free_form_but_not_templates(sandbox, receiver):
    await sandbox.patch("/sandbox/config", json={"enforce_24h": True})
    await send(sandbox, text_msg(to=SARAH))
    await receiver.wait_for(lambda: len(receiver.statuses()) == 1)
    assert receiver.statuses()[0]["errors"][0]["code"] == 131047
    await sandbox.post("/sandbox/inbound", json={"from": SARAH, "text": "hi"})
    await send(sandbox, text_msg(to=SARAH))
    await receiver.wait_for(lambda: len(receiver.statuses()) == 4)
    assert [s["status"] for s in receiver.statuses()[1:]] == ["sent", "delivered", "read"]


# --- inspection -----------------------------------------------------------------------
async def test_inspection_filters_by_recipient_keeps_order_and_polls(sandbox):
    ids = []
    for to, body in [(BUDI, "1"), (SARAH, "2"), (BUDI, "3"), (BUDI, "4")]:
        ids.append((to, (await send(sandbox, text_msg(to=to, body=body)))[1]["messages"][0]["id"]))

    budi = await get_json(sandbox, "/sandbox/messages", to=BUDI)
    assert [m["payload"]["text"]["body"] for m in budi["messages"]] == ["1", "3", "4"]
    assert [m["id"] for m in budi["messages"]] == [i for to, i in ids if to == BUDI]
    everyone = await get_json(sandbox, "/sandbox/messages")
    assert [m["payload"]["text"]["body"] for m in everyone["messages"]] == ["1", "2", "3", "4"]

    since_seq = budi["messages"][0]["seq"]
    newer = await get_json(sandbox, "/sandbox/messages", to=BUDI, since=str(since_seq))
    assert [m["payload"]["text"]["body"] for m in newer["messages"]] == ["3", "4"]
    empty = await get_json(sandbox, "/sandbox/messages", to=BUDI, since=budi["last_seq"])
    assert empty["messages"] == [] and empty["last_seq"] == budi["last_seq"]

    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    future = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    recent = await get_json(sandbox, "/sandbox/messages", to=BUDI, since=past)
    assert len(recent["messages"]) == 3
    assert (await get_json(sandbox, "/sandbox/messages", since=future))["messages"] == []
    assert (await sandbox.get("/sandbox/messages", params={"since": "yesterday"})).status == 400

    await sandbox.delete("/sandbox/messages", params={"to": SARAH})
    assert len((await get_json(sandbox, "/sandbox/messages"))["messages"]) == 3
    await sandbox.delete("/sandbox/messages")
    assert (await get_json(sandbox, "/sandbox/messages"))["messages"] == []
    assert (await get_json(sandbox, "/sandbox/read_receipts"))["read_receipts"] == []


async def test_conversation_merges_both_directions(sandbox):
    await sandbox.post("/sandbox/inbound", json={"from": BUDI, "text": "halo"})
    await send(sandbox, text_msg(body="Halo Budi!"))
    items = (await get_json(sandbox, "/sandbox/conversation", wa_id=BUDI))["items"]
    assert [i["direction"] for i in items] == ["in", "out"]


async def test_partners_lists_the_five_fixtures_first(sandbox):
    await send(sandbox, text_msg(to="6287700000042"))
    partners = (await get_json(sandbox, "/sandbox/partners"))["partners"]
    assert [p["wa_id"] for p in partners[:5]] == [f"628120000000{i}" for i in range(1, 6)]
    assert [p["name"] for p in partners[:5]] == [
        "Budi Santoso",
        "Sarah Wijaya",
        "Andi Pratama",
        "Rina Lestari",
        "Joko Susilo",
    ]
    assert partners[0]["tier"] == "Gold" and partners[2]["tier"] == "Platinum"
    assert partners[1]["language"] == "en" and partners[3]["shop_name"] is None
    assert partners[5]["wa_id"] == "6289900000000" and partners[5]["is_partner"] is False
    assert partners[6]["wa_id"] == "6287700000042"


async def test_web_phone_and_health(sandbox):
    resp = await sandbox.get("/")
    html = await resp.text()
    assert resp.status == 200 and "Mitra — WhatsApp sandbox" in html
    assert "simulator" in html.lower() and "https://" not in html.split("<body")[0]
    assert (await get_json(sandbox, "/sandbox/health")) == {"status": "ok"}


async def test_verify_handshake_against_the_bot(sandbox, receiver):
    result = await (await sandbox.post("/sandbox/verify", json={})).json()
    assert result["ok"] is False and result["status"] == 405  # the test receiver has no GET


async def test_many_concurrent_sends_are_all_recorded_in_order(sandbox):
    await sandbox.patch("/sandbox/config", json={"statuses": False})
    recipients = [f"62812000001{i:02d}" for i in range(20)]

    async def burst(to: str):
        for n in range(15):
            status, _ = await send(sandbox, text_msg(to=to, body=str(n)))
            assert status == 200

    started = time.perf_counter()
    await asyncio.gather(*(burst(to) for to in recipients))
    elapsed = time.perf_counter() - started
    everyone = (await get_json(sandbox, "/sandbox/messages"))["messages"]
    assert len(everyone) == 300 and len({m["id"] for m in everyone}) == 300
    one = await get_json(sandbox, "/sandbox/messages", to=recipients[3])
    assert [m["payload"]["text"]["body"] for m in one["messages"]] == [str(n) for n in range(15)]
    assert 300 / elapsed > 200, f"only {300 / elapsed:.0f} sends/s"


# --- logging --------------------------------------------------------------------------
def test_wa_ids_are_masked_in_logs():
    assert mask_wa_id("6281200000001") == "6281****0001"
    assert mask_text("/sandbox/messages?to=6281200000001") == "/sandbox/messages?to=6281****0001"
    assert "6281200000001" not in mask_text("from 6281200000001 and 6289900000000")


def test_settings_from_env_and_demo_defaults():
    defaults = Settings.from_env({})
    assert defaults.access_token == "sandbox-access-token"
    assert defaults.app_secret == "sandbox-app-secret"
    assert defaults.phone_number_id == "100000000000001" and defaults.api_version == "v21.0"
    assert defaults.webhook_url == "http://127.0.0.1:5005/webhooks/whatsapp/webhook"
    assert defaults.public_url == "http://127.0.0.1:8090" and defaults.statuses is True
    custom = Settings.from_env(
        {
            "WHATSAPP_APP_SECRET": "s",
            "WHATSAPP_API_VERSION": "",  # empty counts as unset
            "SANDBOX_PUBLIC_URL": "http://sandbox:9000/",
            "SANDBOX_STATUSES": "off",
            "SANDBOX_STATUS_DELAY_MS": "7",
        }
    )
    assert (custom.app_secret, custom.api_version) == ("s", "v21.0")
    assert custom.public_url == "http://sandbox:9000"
    assert custom.statuses is False and custom.status_delay_ms == 7
    with pytest.raises(ValueError):
        Settings.from_env({"SANDBOX_STATUSES": "maybe"})



async def test_send_to_a_business_scoped_user_id_uses_recipient(sandbox):
    """Senders without a phone number (WhatsApp user ids) are addressed with ``recipient``."""
    payload = text_msg()
    del payload["to"]
    payload["recipient"] = "ID.4f9c2a7e1b83"
    status, body = await send(sandbox, payload)
    assert status == 200
    assert body["contacts"] == [{"input": "ID.4f9c2a7e1b83", "wa_id": "ID.4f9c2a7e1b83"}]
    listing = await get_json(sandbox, "/sandbox/messages", to="ID.4f9c2a7e1b83")
    assert [m["payload"] for m in listing["messages"]] == [payload]
