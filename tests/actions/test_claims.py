"""Claim conversations turn by turn against the fake claims API (tests/actions/fake_claims.py):
photo first, typed first, corrections, ambiguous products, duplicates, another
partner's invoice, backend down, pending then approved, display photos."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendConflict, BackendRefused
from actions.claims import (
    DONE,
    INTERRUPTING_INTENTS,
    ActionAskClaimReview,
    ActionClaimDisplay,
    ActionClaimDone,
    ActionClaimPhoto,
    ActionClaimStatus,
    ActionStartClaim,
    ValidateClaimForm,
)
from tests.actions.fake_claims import OCR_NOTHING, ClaimsApi, claims_backend
from tests.support.demo import BUDI, SARAH, STRANGER
from tests.support.processes import SERVICE_TOKEN

ROOT = Path(__file__).resolve().parents[2]
_ids = itertools.count(1)


class Chat:
    """One partner's slots across turns; each turn runs one action like Rasa would."""

    def __init__(self, sender: str = BUDI, language: str = "id") -> None:
        self.sender = sender
        self.slots: dict[str, Any] = {"language": language, "claim_stage": None,
                                      "claim_draft": None, "claim_photo": None,
                                      "claim_review": None, "requested_slot": None}
        self.active_loop: dict[str, Any] = {}
        self.last_message_id = ""

    def tracker(self, intent: str, text: str = "", entities: dict[str, Any] | None = None,
                metadata: dict[str, Any] | None = None) -> Tracker:
        self.last_message_id = f"wamid.TEST{next(_ids)}"
        return Tracker(
            sender_id=self.sender, slots=dict(self.slots),
            latest_message={
                "text": text, "intent": {"name": intent, "confidence": 0.99},
                "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
                "message_id": self.last_message_id, "metadata": metadata or {},
            },
            events=[], paused=False, followup_action=None, active_loop=self.active_loop,
            latest_action_name="action_listen",
        )

    async def run(self, action, intent: str, text: str = "", **kwargs) -> list[dict]:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, self.tracker(intent, text, **kwargs), {})
        self.apply(events)
        return dispatcher.messages

    async def answer(self, intent: str, text: str, **kwargs) -> list[dict]:
        """A reply while the draft waits: what the form's validation makes of it."""
        dispatcher = CollectingDispatcher()
        result = await ValidateClaimForm().validate_claim_review(
            text, dispatcher, self.tracker(intent, text, **kwargs), {}
        )
        self.slots.update(result)
        if self.slots.get("claim_review") == DONE:
            self.active_loop = {}
            message_id = self.last_message_id
            done = ActionClaimDone()
            self.apply(await done.run(CollectingDispatcher(), self.tracker(intent), {}))
            self.last_message_id = message_id
        return dispatcher.messages

    async def photo(self, caption: str | None = None, media_id: str = "1234567890") -> list:
        entities = {"media_id": media_id, "media_type": "image"}
        if caption:
            entities["caption"] = caption
        text = f'/share_media{{"media_id": "{media_id}"}}'
        messages = await self.run(ActionClaimPhoto(), "share_media", text, entities=entities)
        if self.slots["claim_stage"] == "review":
            self.active_loop = {"name": "claim_form"}
        return messages

    async def ask(self, intent: str = "share_media") -> list[dict]:
        return await self.run(ActionAskClaimReview(), intent)

    def apply(self, events: list[dict]) -> None:
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]

    @property
    def draft(self) -> dict[str, Any]:
        return self.slots["claim_draft"]


def responses(messages: list[dict]) -> list[str]:
    return [m.get("response") for m in messages]


@pytest.fixture()
def api(monkeypatch) -> ClaimsApi:
    with claims_backend(monkeypatch) as (claims_api, _):
        yield claims_api


# --------------------------------------------------------------------- photo first


@pytest.mark.parametrize(("language", "rule_text"), [
    ("id", "10 krt Kopi Susu Gula Aren × 50 = 500"),
    ("en", "10 ctn Kopi Susu Gula Aren × 50 = 500"),
])
async def test_photo_first_then_confirm_is_approved_with_each_rule(api, language, rule_text):
    chat = Chat(language=language)
    assert await chat.photo() == []  # the form shows the draft
    assert chat.slots["claim_stage"] == "review"
    assert chat.draft["invoice_no"] == "INV/DN/2611/00123"
    assert [(ln["sku"], ln["quantity"]) for ln in chat.draft["lines"]] == [
        ("KSGA-24", 10), ("TML-48", 5)]

    [shown] = await chat.ask()
    assert shown["response"] == "utter_claim_draft"
    assert shown["invoice_no"] == "INV/DN/2611/00123"
    assert shown["invoice_date"] == "26 Nov 2026"
    assert "Kopi Susu Gula Aren 24 x 200 ml — 10 karton" in shown["lines"]
    assert "Teh Melati 48 x 250 ml — 5 karton" in shown["lines"]

    messages = await chat.answer("affirm", "ya")
    [approved] = messages
    assert approved["response"] == "utter_claim_approved"
    assert approved["claim_no"] == "KLM-000001"
    assert approved["points"] == "625"
    assert f"{rule_text}: +500" in approved["rules"]
    [body] = api.submitted
    assert body == {
        "kind": "sales", "invoice_no": "INV/DN/2611/00123", "invoice_date": "2026-11-26",
        "lines": [{"sku": "KSGA-24", "quantity": 10}, {"sku": "TML-48", "quantity": 5}],
        "image_id": "img-invoice-1", "idempotency_key": f"wa:{chat.last_message_id}",
    }
    assert chat.draft is None and chat.slots["claim_stage"] == "idle"


async def test_unread_fields_are_asked_for(api):
    api.ocr = {**api.ocr, "invoice_no": None, "lines": [
        {"sku": None, "quantity": 3, "text": "KOPI XYZ 24X", "confidence": 0.3},
        {"sku": "KSGA-24", "quantity": None, "text": "KOPI SUSU GA", "confidence": 0.6},
    ]}
    chat = Chat()
    await chat.photo()
    messages = await chat.ask()
    assert responses(messages) == [
        "utter_claim_draft_incomplete", "utter_claim_unread", "utter_claim_ask_invoice_no"]
    assert "KOPI XYZ 24X" in messages[1]["texts"]

    # Confirming now sends nothing: the form asks again for what is missing.
    assert await chat.answer("affirm", "ya") == []
    assert api.submitted == []
    await chat.answer("claim_correct", "nomor nota INV/DN/2611/00123")
    await chat.answer("inform", "kopi susu 10")
    [shown] = await chat.ask("claim_correct")
    assert shown["response"] == "utter_claim_draft"


async def test_a_photo_with_a_display_caption_is_a_display_claim(api):
    chat = Chat(language="en")
    messages = await chat.photo(caption="foto rak display minggu ini")
    assert responses(messages) == ["utter_claim_display_pending"]
    assert "2 working days" in messages[0]["eta"]
    assert api.uploads == 1
    assert api.submitted[0]["kind"] == "display"
    assert api.submitted[0]["image_id"] == "img-display-1"
    assert chat.slots["claim_stage"] == "idle"


async def test_a_photo_without_invoice_offers_a_display_claim(api):
    api.ocr = dict(OCR_NOTHING)
    chat = Chat()
    assert responses(await chat.photo()) == ["utter_claim_photo_not_invoice"]
    assert chat.slots["claim_stage"] == "idle"
    assert chat.slots["claim_photo"]["image_id"] == "img-shelf-1"

    messages = await chat.run(ActionClaimDisplay(), "claim_display", "/claim_display")
    assert responses(messages) == ["utter_claim_display_pending"]
    assert api.submitted[0]["image_id"] == "img-shelf-1"  # stored by the OCR already
    assert api.uploads == 0
    assert chat.slots["claim_photo"] is None


async def test_display_asked_first_then_the_photo(api):
    chat = Chat()
    messages = await chat.run(ActionClaimDisplay(), "claim_display", "mau kirim foto display")
    assert responses(messages) == ["utter_claim_display_ask_photo"]
    assert chat.slots["claim_stage"] == "display"
    assert responses(await chat.photo()) == ["utter_claim_display_pending"]
    assert api.submitted[0]["kind"] == "display"


@pytest.mark.parametrize(("status", "response"), [
    (422, "utter_claim_photo_unreadable"), (415, "utter_claim_photo_unsupported"),
    (413, "utter_claim_photo_too_big"),
])
async def test_files_the_ocr_cannot_take(api, status, response):
    api.ocr = status
    chat = Chat()
    assert responses(await chat.photo()) == [response]
    assert chat.slots["claim_stage"] == "idle"


async def test_a_photo_that_cannot_be_downloaded(api):
    api.graph_down = True
    chat = Chat()
    assert responses(await chat.photo()) == ["utter_claim_photo_failed"]
    assert api.submitted == []


async def test_a_stranger_sending_a_photo_learns_how_to_join(api):
    chat = Chat(sender=STRANGER)
    assert responses(await chat.photo()) == ["utter_not_registered"]


# --------------------------------------------------------------------- typed first


async def test_asking_to_claim_asks_for_the_photo(api):
    chat = Chat()
    assert responses(await chat.run(ActionStartClaim(), "submit_claim", "mau klaim poin")) == [
        "utter_claim_start"]
    assert chat.slots["claim_stage"] == "idle"


async def test_typed_claim_then_photo(api):
    chat = Chat()
    messages = await chat.run(ActionStartClaim(), "submit_claim",
                              "klaim INV/DN/2611/00123 kopi susu 10 teh melati 5")
    assert messages == []
    assert chat.slots["claim_stage"] == "review"
    chat.active_loop = {"name": "claim_form"}
    assert [(ln["sku"], ln["quantity"]) for ln in chat.draft["lines"]] == [
        ("KSGA-24", 10), ("TML-48", 5)]
    assert responses(await chat.ask("submit_claim")) == [
        "utter_claim_draft_incomplete", "utter_claim_ask_invoice_date"]
    await chat.answer("claim_correct", "tanggal 26/11/2026")
    assert responses(await chat.ask("claim_correct")) == [
        "utter_claim_draft_incomplete", "utter_claim_ask_photo"]
    # "ya" without a photo submits nothing.
    assert await chat.answer("affirm", "ya") == []
    assert api.submitted == []

    await chat.photo()  # while the form waits: the photo completes the typed draft
    assert chat.draft["image_id"] == "img-invoice-1"
    assert chat.draft["invoice_no"] == "INV/DN/2611/00123"
    assert responses(await chat.ask()) == ["utter_claim_draft"]
    assert responses(await chat.answer("affirm", "oke kirim")) == ["utter_claim_approved"]


# --------------------------------------------------------------------- corrections


async def _reviewing(language: str = "id") -> Chat:
    chat = Chat(language=language)
    await chat.photo()
    await chat.ask()
    return chat


@pytest.mark.parametrize(("text", "check"), [
    ("qty kopi susu 12", lambda d: d["lines"][0]["quantity"] == 12),
    ("kopi susu 12", lambda d: d["lines"][0]["quantity"] == 12),
    ("quantity kopsus 12", lambda d: d["lines"][0]["quantity"] == 12),
    ("hapus teh melati", lambda d: [ln["sku"] for ln in d["lines"]] == ["KSGA-24"]),
    ("remove teh", lambda d: [ln["sku"] for ln in d["lines"]] == ["KSGA-24"]),
    ("tambah biskuit 3", lambda d: d["lines"][-1] == {
        "sku": "BKL-20", "name": "Biskuit Kelapa 20 x 150 g", "unit": "dus", "quantity": 3}),
    ("add 3 biskuit", lambda d: d["lines"][-1]["sku"] == "BKL-20"),
    ("nomor nota INV/DN/2611/00124", lambda d: d["invoice_no"] == "INV/DN/2611/00124"),
    ("invoice number INV/DN/2611/00124", lambda d: d["invoice_no"] == "INV/DN/2611/00124"),
    ("tanggal 27/11/2026", lambda d: d["invoice_date"] == "2026-11-27"),
    ("date 2026-11-27", lambda d: d["invoice_date"] == "2026-11-27"),
])
async def test_corrections_in_plain_words(api, text, check):
    chat = await _reviewing()
    assert await chat.answer("claim_correct", text) == []
    assert chat.slots["claim_review"] is None  # the form shows the draft again
    assert check(chat.draft)


async def test_a_bad_date_and_unclear_text_are_explained(api):
    chat = await _reviewing()
    assert responses(await chat.answer("claim_correct", "tanggal 31/02/2026")) == [
        "utter_claim_bad_date"]
    assert responses(await chat.answer("nlu_fallback", "hmm gimana ya")) == [
        "utter_claim_correction_unclear"]
    assert chat.draft["invoice_date"] == "2026-11-26"


async def test_correct_step_by_step(api):
    chat = await _reviewing()
    assert responses(await chat.answer("claim_correct", "/claim_correct")) == [
        "utter_claim_which_field"]
    messages = await chat.answer("claim_correct", '/claim_correct{"claim_field": "invoice_no"}',
                                 entities={"claim_field": "invoice_no"})
    assert responses(messages) == ["utter_claim_edit_invoice_no"]
    assert await chat.ask("claim_correct") == []  # the question was the ask
    await chat.answer("inform", "INV/DN/2611/00777")
    assert chat.draft["invoice_no"] == "INV/DN/2611/00777"
    assert chat.draft["editing"] is None


async def test_an_ambiguous_product_gives_a_list_to_pick_from(api):
    chat = await _reviewing()
    [pick] = await chat.answer("claim_correct", "tambah kopi 4")
    assert pick["response"] == "utter_claim_pick_product"
    assert [b["payload"] for b in pick["buttons"]] == [
        '/inform{"product": "KSGA-24"}', '/inform{"product": "KHT-24"}',
        '/inform{"product": "KSLS-24"}', '/inform{"product": "K3S-50"}']
    assert "2. Kopi Hitam Tubruk 24 x 200 ml" in pick["options"]
    assert await chat.ask("claim_correct") == []
    await chat.answer("inform", '/inform{"product": "KHT-24"}', entities={"product": "KHT-24"})
    assert chat.draft["pick"] is None
    assert chat.draft["lines"][-1]["sku"] == "KHT-24"
    assert chat.draft["lines"][-1]["quantity"] == 4


async def test_a_product_picked_by_its_number(api):
    chat = await _reviewing("en")
    await chat.answer("claim_correct", "susu 2")
    await chat.answer("nlu_fallback", "2")
    assert chat.draft["lines"][-1] == {"sku": "SCK-12", "name": "Susu Cokelat 12 x 1 L",
                                       "unit": "karton", "quantity": 2}


async def test_an_unknown_product_is_named(api):
    chat = await _reviewing()
    messages = await chat.answer("claim_correct", "tambah rinso 3")
    assert responses(messages) == ["utter_claim_product_unknown"]
    assert messages[0]["product"] == "rinso"
    assert len(chat.draft["lines"]) == 2


@pytest.mark.parametrize(("intent", "text"), [("deny", "batal"), ("deny", "/deny"),
                                              ("deny", "gak jadi deh"), ("deny", "cancel")])
async def test_cancel_ends_the_draft_politely(api, intent, text):
    chat = await _reviewing()
    assert responses(await chat.answer(intent, text)) == ["utter_claim_cancelled"]
    assert chat.draft is None and api.submitted == []


async def test_no_means_which_field_to_correct(api):
    chat = await _reviewing()
    assert responses(await chat.answer("deny", "salah")) == ["utter_claim_which_field"]
    assert chat.draft is not None


async def test_another_request_leaves_the_draft_waiting(api):
    chat = await _reviewing()
    before = dict(chat.draft)
    messages = await chat.ask("check_balance")  # the form asks again after the answer
    assert responses(messages) == ["utter_claim_draft_waiting",
                                   "utter_claim_draft"]
    assert {k: v for k, v in chat.draft.items() if k != "shown"} == {
        k: v for k, v in before.items() if k != "shown"}


# --------------------------------------------------------------------- verdicts


async def test_a_duplicate_invoice_and_a_duplicate_photo(api):
    chat = await _reviewing()
    await chat.answer("affirm", "ya")
    chat = await _reviewing()  # same invoice again (another photo of it)
    messages = await chat.answer("affirm", "ya")
    assert responses(messages) == ["utter_claim_duplicate_invoice"]
    assert messages[0]["claim_no"] == "KLM-000001"
    assert chat.draft is None

    chat = await _reviewing()  # the same photo for another invoice number
    await chat.answer("claim_correct", "nomor nota INV/DN/2611/00555")
    assert responses(await chat.answer("affirm", "ya")) == ["utter_claim_duplicate_photo"]


async def test_another_partners_invoice_is_rejected_with_the_reason(api):
    api.ocr = {**api.ocr, "invoice_no": "INV/DN/2611/00999"}
    chat = await _reviewing(language="en")
    [rejected] = await chat.answer("affirm", "yes")
    assert rejected["response"] == "utter_claim_rejected"
    assert "issued to another shop" in rejected["reasons"]


async def test_backend_down_keeps_the_draft_and_ya_again_sends_it_once(api):
    chat = await _reviewing()
    api.down = True
    assert responses(await chat.answer("affirm", "ya")) == ["utter_backend_error"]
    first_key = f"wa:{chat.last_message_id}"
    assert chat.draft["idempotency_key"] == first_key
    assert responses(await chat.ask("affirm")) == ["utter_claim_retry"]

    api.down = False
    assert responses(await chat.answer("affirm", "ya")) == ["utter_claim_approved"]
    assert [b["idempotency_key"] for b in api.submitted] == [first_key]


async def test_pending_then_approved_at_the_next_status_check(api):
    api.ocr = {**api.ocr, "invoice_no": "INV/DN/2611/00400"}
    chat = await _reviewing()
    [pending] = await chat.answer("affirm", "ya")
    assert pending["response"] == "utter_claim_pending"
    assert "belum masuk dari distributor" in pending["reasons"]
    assert "2 hari kerja" in pending["eta"]

    [listed] = await chat.run(ActionClaimStatus(), "claim_status", "status klaim")
    assert "KLM-000001" in listed["lines"] and "Sedang ditinjau" in listed["lines"]
    api.decide("KLM-000001", "approved", points=500)
    [listed] = await chat.run(ActionClaimStatus(), "claim_status", "status klaim")
    assert "Disetujui · +500" in listed["lines"]


async def test_claim_status_lists_only_the_partners_own_claims(api):
    chat = await _reviewing()
    await chat.answer("affirm", "ya")
    sarah = Chat(sender=SARAH, language="en")
    assert responses(await sarah.run(ActionClaimStatus(), "claim_status", "my claims")) == [
        "utter_claim_list_empty"]


async def test_a_replayed_confirmation_gets_the_same_claim(api):
    client = BackendClient(api.url, SERVICE_TOKEN)
    body = {"kind": "sales", "invoice_no": "INV/DN/2611/00123", "invoice_date": None,
            "lines": [{"sku": "KSGA-24", "quantity": 1}], "image_id": "x",
            "idempotency_key": "wa:abc"}
    assert client.submit_claim(BUDI, body) == client.submit_claim(BUDI, body)


async def test_the_client_types_409_and_422(api):
    client = BackendClient(api.url, SERVICE_TOKEN)
    body = {"kind": "sales", "invoice_no": "INV/DN/2611/00123", "invoice_date": None,
            "lines": [{"sku": "KSGA-24", "quantity": 1}], "image_id": "x",
            "idempotency_key": "wa:1"}
    client.submit_claim(BUDI, body)
    with pytest.raises(BackendConflict) as conflict:
        client.submit_claim(BUDI, {**body, "idempotency_key": "wa:2"})
    assert (conflict.value.code, conflict.value.claim_no) == ("duplicate_invoice", "KLM-000001")
    with pytest.raises(BackendRefused) as refused:
        client.submit_claim(BUDI, {**body, "lines": [], "idempotency_key": "wa:3"})
    assert refused.value.status == 422 and "invoice number" in refused.value.detail


def test_interrupting_intents_match_the_domain():
    domain = yaml.safe_load((ROOT / "bot/domain.yml").read_text())
    [mapping] = [m for m in domain["slots"]["claim_review"]["mappings"] if "not_intent" in m]
    assert sorted(mapping["not_intent"]) == sorted(INTERRUPTING_INTENTS)


def test_claim_done_resets_the_claim_slots():
    import asyncio

    events = asyncio.run(ActionClaimDone().run(CollectingDispatcher(), Chat().tracker("x"), {}))
    assert SlotSet("claim_draft", None) in events and SlotSet("claim_review", None) in events
