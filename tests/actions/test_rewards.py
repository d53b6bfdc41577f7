"""Reward conversations turn by turn against a real backend (its own, with the demo seed):
the catalogue and its pages, redeeming (a voucher's code at once, goods with the address
on file or a typed one), a replayed confirm tap, not enough points, out of stock, not
eligible, cancel, status and vouchers again, both languages, the backend going down."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.core.nlg.interpolator import interpolate
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import backend_client, rewards
from actions.formatting import format_day_month, format_points, localised
from actions.points import ActionCheckBalance
from actions.rewards import (
    ANSWER,
    DONE,
    FORM,
    INTERRUPTING_INTENTS,
    STAGE,
    ActionAskRedeemAnswer,
    ActionBrowseRewards,
    ActionMoreRewards,
    ActionRedeemDone,
    ActionRedeemReward,
    ActionRedemptionStatus,
    ValidateRedeemForm,
    redemption_line,
)
from connectors.whatsapp_render import render_response
from sandbox.limits import validate_send
from tests.actions.conftest import (
    ADMIN_API_KEY,
    ANDI,
    BUDI,
    RINA,
    SARAH,
    STRANGER,
    backend_call,
    backend_get,
)
from tests.support.demo import JOKO
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "bot/domain.yml").read_text())
_ids = itertools.count(1)

ACTIONS = {
    "browse_rewards": ActionBrowseRewards,
    "more_rewards": ActionMoreRewards,
    "redeem_reward": ActionRedeemReward,
    "redemption_status": ActionRedemptionStatus,
    "check_balance": ActionCheckBalance,
}


class Chat:
    """One partner's slots across turns; each turn runs what Rasa's rules would run
    (the redeem form: its validation, then its question, or the done action)."""

    def __init__(self, sender: str, language: str = "id") -> None:
        self.sender = sender
        self.language = language
        self.slots: dict[str, Any] = {
            "language": language, "redeem_stage": None, "redeem_draft": None,
            "redeem_answer": None, "rewards_page": None, "requested_slot": None,
        }
        self.active_loop: dict[str, Any] = {}
        self.message: dict[str, Any] = {}

    @property
    def message_id(self) -> str:
        return self.message["message_id"]

    @property
    def draft(self) -> dict[str, Any]:
        return self.slots["redeem_draft"]

    def tracker(self) -> Tracker:
        return Tracker(
            sender_id=self.sender, slots=dict(self.slots), latest_message=self.message,
            events=[], paused=False, followup_action=None, active_loop=self.active_loop,
            latest_action_name="action_listen",
        )

    async def run(self, action) -> list[dict]:
        dispatcher = CollectingDispatcher()
        for event in await action.run(dispatcher, self.tracker(), {}):
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        return dispatcher.messages

    async def say(self, intent: str, text: str = "", **entities: Any) -> list[dict]:
        """One partner message: the bot's answers to it."""
        self.message = {
            "text": text, "intent": {"name": intent, "confidence": 0.99},
            "entities": [{"entity": k, "value": v} for k, v in entities.items()],
            "message_id": f"wamid.REWARDS{next(_ids)}",
        }
        if self.active_loop.get("name") == FORM:
            if intent in INTERRUPTING_INTENTS:
                return await self.run(ACTIONS[intent]()) + await self.run(ActionAskRedeemAnswer())
            dispatcher = CollectingDispatcher()
            result = await ValidateRedeemForm().validate_redeem_answer(
                text, dispatcher, self.tracker(), {})
            self.slots.update(result)
            if self.slots[ANSWER] == DONE:
                self.active_loop = {}
                await self.run(ActionRedeemDone())
                return dispatcher.messages
            return dispatcher.messages + await self.run(ActionAskRedeemAnswer())
        answers = await self.run(ACTIONS[intent]())
        if intent == "redeem_reward" and self.slots[STAGE] == "review":
            self.active_loop = {"name": FORM}
            answers += await self.run(ActionAskRedeemAnswer())
        return answers

    async def tap(self, payload: str) -> list[dict]:
        """A tapped button or list row: its payload, as the connector passes it."""
        intent, _, entities = payload[1:].partition("{")
        return await self.say(intent, payload, **(json.loads("{" + entities) if entities else {}))


def shown(message: dict[str, Any], language: str) -> dict[str, Any]:
    """What Rasa makes of a dispatched message: the domain response (in the partner's
    language) filled with the action's values, plus the buttons the action added."""
    if not message.get("response"):
        return {k: v for k, v in message.items() if v}
    variations = DOMAIN["responses"][message["response"]]
    english = [v for v in variations if v.get("condition")]
    variation = dict((english if language == "en" else [v for v in variations
                                                          if not v.get("condition")])[0])
    variation.pop("condition", None)
    values = {k: v for k, v in message.items() if v is not None}
    filled = interpolate(json.loads(json.dumps(variation)), {**values, "language": language})
    filled["buttons"] = (filled.get("buttons") or []) + (message.get("buttons") or [])
    return filled


def text_of(message: dict[str, Any], language: str) -> str:
    return shown(message, language).get("text", "")


def whatsapp(message: dict[str, Any], language: str, to: str = BUDI) -> list[dict]:
    """The Cloud API payloads for a message, each checked against WhatsApp's limits."""
    payloads = render_response(to, shown(message, language))
    for payload in payloads:
        validate_send(payload)
    return payloads


def responses(messages: list[dict]) -> list[str | None]:
    return [m.get("response") for m in messages]


def balance_of(backend, wa_id: str) -> int:
    return backend_get(backend, f"/partners/by-wa/{wa_id}/balance")["available_points"]


def redemptions_of(backend, wa_id: str) -> list[dict]:
    return backend_get(backend, f"/partners/by-wa/{wa_id}/redemptions", limit=50)["items"]


def admin(backend, method: str, path: str, body: Any = None) -> dict:
    response = backend_call(backend, method, path, body, token=ADMIN_API_KEY)
    assert response.status_code < 300, response.text
    return response.json()


def earn(backend, wa_id: str, points: int, key: str) -> None:
    admin(backend, "POST", f"/admin/partners/by-wa/{wa_id}/points/earn", {
        "points": points, "reason": "adjustment", "reference_type": "test",
        "reference_id": key, "idempotency_key": f"test-{key}",
    })


def confirm_button(message: dict[str, Any], language: str) -> str:
    return shown(message, language)["buttons"][0]["payload"]


# ------------------------------------------------------------------- the catalogue


async def test_nothing_redeemed_yet(use_rewards_backend):
    # Rina (new) has redeemed nothing yet: the tests below redeem for her later.
    [answer] = await Chat(RINA).say("redemption_status", "status penukaran")
    assert answer["response"] == "utter_redemption_list_empty"
    assert shown(answer, "id")["buttons"][0]["payload"] == "/browse_rewards"


async def test_catalogue_in_indonesian_with_balance_expiry_and_sections(use_rewards_backend):
    page = backend_get(use_rewards_backend, f"/partners/by-wa/{BUDI}/rewards", limit=50)
    chat = Chat(BUDI)
    [catalogue] = await chat.say("browse_rewards", "katalog hadiah")

    # Budi (Gold) has points expiring within 30 days: the header says when.
    assert catalogue["response"] == "utter_rewards_catalogue_expiring"
    text = text_of(catalogue, "id")
    assert f"poin Anda *{format_points(page['balance'], 'id')} poin*" in text
    assert page["expiring_soon_points"] > 0
    assert (f"{format_points(page['expiring_soon_points'], 'id')} poin hangus "
            f"{format_day_month(page['expiring_soon_date'], 'id')} — tukar sebelum itu") in text

    codes = [json.loads(b["payload"][len("/redeem_reward"):])["reward_code"]
             for b in catalogue["buttons"]]
    assert codes == [item["code"] for item in page["items"]][:rewards.PAGE_SIZE]
    assert "TV-43" not in codes  # Platinum only: not in Budi's catalogue
    rows = {code: button for code, button in zip(codes, catalogue["buttons"], strict=True)}
    # A name longer than a row title (24) is cut between words; the rest leads the
    # description: "Pulsa / e-wallet" + "Rp25.000 · 500 poin · ✅ bisa ditukar".
    assert rows["PULSA-25K"]["title"] == "Pulsa / e-wallet"
    assert rows["PULSA-25K"]["description"] == "Rp25.000 · 500 poin · ✅ bisa ditukar"
    assert rows["VCR-50K"]["description"] == "1.000 poin · ✅ bisa ditukar"
    assert rows["VCR-50K"]["section"] == "Voucher belanja"
    assert chat.slots["rewards_page"] == {"offset": 0, "query": None}

    [payload] = whatsapp(catalogue, "id")
    assert payload["interactive"]["type"] == "list"
    assert payload["interactive"]["action"]["button"] == "Lihat hadiah"
    sections = payload["interactive"]["action"]["sections"]
    assert [s["title"] for s in sections] == list(dict.fromkeys(
        localised(item["kind_label"], "id") for item in page["items"]))
    assert sum(len(s["rows"]) for s in sections) == len(page["items"]) <= 10


async def test_catalogue_in_english_says_how_many_points_are_short(use_rewards_backend):
    balance = balance_of(use_rewards_backend, SARAH)
    assert 500 <= balance < 1000  # the demo fixture: enough for pulsa, not for a voucher
    chat = Chat(SARAH, "en")
    [catalogue] = await chat.say("browse_rewards", "show me the rewards")
    assert f"you have *{format_points(balance, 'en')} points*" in text_of(catalogue, "en")
    rows = {b["payload"].split('"')[-2]: b for b in catalogue["buttons"]}
    assert rows["PULSA-25K"]["description"] == "Rp25,000 · 500 points · ✅ you can redeem"
    assert rows["VCR-50K"]["description"] == (
        f"Rp50,000 · 1,000 points · {format_points(1000 - balance, 'en')} points short")
    assert rows["VCR-50K"]["section"] == "Shopping vouchers"
    assert "CASHBACK-250K" not in rows  # Gold and Platinum only
    [payload] = whatsapp(catalogue, "en", to=SARAH)
    assert payload["interactive"]["action"]["button"] == "See rewards"


async def test_pages_with_a_more_row_and_lagi(use_rewards_backend, monkeypatch):
    monkeypatch.setattr(rewards, "PAGE_SIZE", 3)
    page = backend_get(use_rewards_backend, f"/partners/by-wa/{BUDI}/rewards", limit=50)
    all_codes = [item["code"] for item in page["items"]]
    assert 3 < len(all_codes) <= 9
    chat = Chat(BUDI)

    [first] = await chat.say("browse_rewards", "katalog")
    assert len(first["buttons"]) == 4
    more = first["buttons"][-1]
    assert more["payload"] == '/more_rewards{"page_offset": 3}'
    assert (more["title"], more["section"]) == ("Lainnya", "Lainnya")
    assert more["description"] == f"Hadiah berikutnya (4–{min(6, len(all_codes))} dari " \
                                  f"{len(all_codes)})"
    whatsapp(first, "id")

    seen = [b["payload"] for b in first["buttons"][:3]]
    while True:
        [answer] = await chat.say("more_rewards", "lagi")
        if answer["response"] == "utter_rewards_end":
            break
        assert f"Hadiah {answer['first']}–{answer['last']} dari {len(all_codes)}" in text_of(
            answer, "id")
        seen += [b["payload"] for b in answer["buttons"]
                 if b["payload"].startswith("/redeem_reward")]
    assert seen == [f'/redeem_reward{{"reward_code": "{code}"}}' for code in all_codes]
    assert "Itu semua" in text_of(answer, "id")

    # The "Lainnya" row of the first list still shows the second page.
    [again] = await chat.tap(more["payload"])
    assert again["first"] == 4 and again["response"] == "utter_rewards_catalogue"


async def test_a_reward_named_in_the_question_narrows_the_catalogue(use_rewards_backend):
    chat = Chat(BUDI)
    [answer] = await chat.say("browse_rewards", "ada voucher apa aja", reward="voucher")
    codes = {b["payload"] for b in answer["buttons"]}
    assert codes == {'/redeem_reward{"reward_code": "VCR-50K"}',
                     '/redeem_reward{"reward_code": "VCR-100K"}'}


# ------------------------------------------------------------------- redeeming


async def test_a_voucher_is_redeemed_with_its_code_and_a_second_tap_replays(use_rewards_backend):
    backend = use_rewards_backend
    before = balance_of(backend, ANDI)
    chat = Chat(ANDI)

    [confirmation] = await chat.tap('/redeem_reward{"reward_code": "VCR-50K"}')
    opened_by = chat.message_id
    assert confirmation["response"] == "utter_redeem_confirm"
    assert chat.active_loop == {"name": FORM} and chat.slots[STAGE] == "review"
    text = text_of(confirmation, "id")
    assert "*Voucher belanja Rp50.000*" in text and "Harga: *1.000 poin*" in text
    assert (f"Poin Anda: {format_points(before, 'id')} → sisa "
            f"{format_points(before - 1000, 'id')}") in text
    redeem_payload = confirm_button(confirmation, "id")
    assert redeem_payload == (
        f'/redeem_reward{{"reward_code": "VCR-50K", "redeem_key": "wa:{opened_by}"}}')
    [payload] = whatsapp(confirmation, "id", to=ANDI)
    assert [b["reply"]["title"] for b in payload["interactive"]["action"]["buttons"]] == [
        "Tukar", "Batal"]

    [done] = await chat.tap(redeem_payload)
    assert done["response"] == "utter_redeem_done_voucher"
    assert re.fullmatch(r"RDM-\d{6}", done["redemption_no"])
    assert done["voucher_code"] and done["expires"] != "-"
    assert done["balance"] == format_points(before - 1000, "id")
    assert f"Kode voucher: *{done['voucher_code']}*" in text_of(done, "id")
    assert chat.active_loop == {} and chat.slots[STAGE] == "idle"
    [latest, *_] = redemptions_of(backend, ANDI)
    assert (latest["redemption_no"], latest["voucher_code"], latest["status"]) == (
        done["redemption_no"], done["voucher_code"], "fulfilled")
    assert balance_of(backend, ANDI) == before - 1000

    # A double tap (or WhatsApp delivering the tap again): the same key, the same
    # redemption, no second spend.
    [again] = await chat.tap(redeem_payload)
    assert again["response"] == "utter_redeem_done_voucher"
    assert (again["redemption_no"], again["voucher_code"]) == (
        done["redemption_no"], done["voucher_code"])
    assert balance_of(backend, ANDI) == before - 1000
    assert len([r for r in redemptions_of(backend, ANDI)
                if r["redemption_no"] == done["redemption_no"]]) == 1


async def test_redeem_in_words_and_confirm_with_ya(use_rewards_backend):
    backend = use_rewards_backend
    before = balance_of(backend, JOKO)
    chat = Chat(JOKO)
    [confirmation] = await chat.say("redeem_reward", "mau tukar pulsa", reward="pulsa")
    assert confirmation["response"] == "utter_redeem_confirm"
    assert chat.draft["reward_code"] == "PULSA-25K"
    assert chat.draft["key"] == f"wa:{chat.message_id}"
    [done] = await chat.say("affirm", "ya")
    # The demo payout provider pays at once: sent to this number.
    assert done["response"] == "utter_redeem_done_ewallet"
    assert "dikirim ke nomor ini" in text_of(done, "id")
    assert balance_of(backend, JOKO) == before - 500


async def test_voucher_50rb_in_words_is_the_50k_voucher(use_rewards_backend):
    chat = Chat(BUDI)
    [confirmation] = await chat.say("redeem_reward", "redeem voucher 50rb",
                                    reward="voucher 50rb")
    assert confirmation["response"] == "utter_redeem_confirm"
    assert confirmation["reward_code"] == "VCR-50K"
    [cancelled] = await chat.say("deny", "gak jadi")
    assert cancelled["response"] == "utter_redeem_cancelled"


async def test_tukar_poin_without_a_reward_shows_the_catalogue(use_rewards_backend):
    chat = Chat(BUDI)
    [catalogue] = await chat.say("redeem_reward", "tukar poin dong")
    assert catalogue["response"] in ("utter_rewards_catalogue",
                                     "utter_rewards_catalogue_expiring")
    assert chat.slots[STAGE] == "idle" and chat.active_loop == {}


async def test_several_rewards_fit_a_list_to_pick(use_rewards_backend):
    chat = Chat(ANDI)
    [pick] = await chat.say("redeem_reward", "mau tukar voucher", reward="voucher")
    assert pick["response"] == "utter_redeem_pick"
    assert [b["payload"] for b in pick["buttons"]] == [
        '/redeem_reward{"reward_code": "VCR-50K"}', '/redeem_reward{"reward_code": "VCR-100K"}']
    whatsapp(pick, "id", to=ANDI)
    [confirmation] = await chat.tap(pick["buttons"][1]["payload"])
    assert confirmation["reward_code"] == "VCR-100K"
    assert responses(await chat.tap("/deny")) == ["utter_redeem_cancelled"]


async def test_cancel_at_the_confirmation_spends_nothing(use_rewards_backend):
    backend = use_rewards_backend
    before, made = balance_of(backend, BUDI), len(redemptions_of(backend, BUDI))
    chat = Chat(BUDI)
    await chat.tap('/redeem_reward{"reward_code": "VCR-50K"}')
    [cancelled] = await chat.say("deny", "batal")
    assert "Penukaran dibatalkan, poin tidak terpakai" in text_of(cancelled, "id")
    assert chat.active_loop == {} and chat.draft is None
    assert balance_of(backend, BUDI) == before
    assert len(redemptions_of(backend, BUDI)) == made


async def test_other_questions_while_a_redemption_waits(use_rewards_backend):
    chat = Chat(BUDI)
    [confirmation] = await chat.tap('/redeem_reward{"reward_code": "PULSA-25K"}')
    key = chat.draft["key"]
    answers = await chat.say("check_balance", "cek poin")
    assert responses(answers)[0] == "utter_balance"
    assert responses(answers)[-2:] == ["utter_redeem_waiting", "utter_redeem_confirm"]
    assert confirm_button(answers[-1], "id") == confirm_button(confirmation, "id")
    assert chat.draft["key"] == key
    # Something the form cannot read: said so, and the confirmation again.
    assert responses(await chat.say("nlu_fallback", "hmm gimana ya")) == [
        "utter_redeem_unclear", "utter_redeem_confirm"]
    assert responses(await chat.tap("/deny")) == ["utter_redeem_cancelled"]


async def test_the_catalogue_while_a_redemption_waits_drops_it(use_rewards_backend):
    chat = Chat(BUDI)
    await chat.tap('/redeem_reward{"reward_code": "PULSA-25K"}')
    [catalogue] = await chat.say("browse_rewards", "liat katalog")
    assert catalogue["response"].startswith("utter_rewards_catalogue")
    assert chat.active_loop == {} and chat.draft is None


async def test_not_enough_points_says_how_many_and_what_fits(use_rewards_backend):
    backend = use_rewards_backend
    balance = balance_of(backend, SARAH)
    made = len(redemptions_of(backend, SARAH))
    chat = Chat(SARAH, "en")
    [refusal] = await chat.tap('/redeem_reward{"reward_code": "VCR-50K"}')
    assert refusal["response"] == "utter_redeem_insufficient"
    assert refusal["points_short"] == format_points(1000 - balance, "en")
    text = text_of(refusal, "en")
    assert f"you need *{format_points(1000 - balance, 'en')} more points*" in text
    assert "send a photo of a sales invoice" in text and "quizzes" in text
    assert [(b["payload"], b["section"]) for b in refusal["buttons"]] == [
        ('/redeem_reward{"reward_code": "PULSA-25K"}', "You can redeem now"),
        ("/submit_claim", "Earn points"),
    ]
    [payload] = whatsapp(refusal, "en", to=SARAH)
    assert payload["interactive"]["type"] == "list"
    assert chat.active_loop == {} and chat.slots[STAGE] == "idle"
    assert len(redemptions_of(backend, SARAH)) == made


async def test_zero_points_has_no_alternative_only_how_to_earn(use_rewards_backend):
    assert balance_of(use_rewards_backend, RINA) == 0
    chat = Chat(RINA)
    [refusal] = await chat.say("redeem_reward", "tukar voucher 50rb", reward="voucher 50rb")
    assert refusal["response"] == "utter_redeem_insufficient"
    assert "*kurang 1.000 poin* lagi" in text_of(refusal, "id")
    assert [b["payload"] for b in refusal["buttons"]] == ["/submit_claim", "/browse_rewards"]
    [payload] = whatsapp(refusal, "id", to=RINA)
    assert payload["interactive"]["type"] == "button"


async def test_not_eligible_is_said_plainly(use_rewards_backend):
    detail = backend_get(use_rewards_backend, f"/partners/by-wa/{BUDI}/rewards/TV-43")
    assert detail["unavailable"]["code"] == "not_eligible"
    chat = Chat(BUDI)
    [refusal] = await chat.tap('/redeem_reward{"reward_code": "TV-43"}')
    assert refusal["response"] == "utter_redeem_unavailable"
    assert refusal["reason"] == localised(detail["unavailable"]["description"], "id")
    assert chat.active_loop == {}


async def test_an_unknown_code_shows_the_catalogue(use_rewards_backend):
    chat = Chat(BUDI)
    answers = await chat.tap('/redeem_reward{"reward_code": "GONE-1"}')
    assert responses(answers)[0] == "utter_reward_unknown"
    assert responses(answers)[1].startswith("utter_rewards_catalogue")


async def test_out_of_stock_while_confirming_offers_the_same_kind(use_rewards_backend):
    backend = use_rewards_backend
    last_one = {
        "code": "TEST-LAST", "kind": "merchandise", "cost": 100, "stock": 1,
        "name": {"id": "Topi Mitra (uji)", "en": "Mitra cap (test)"},
        "description": {"id": "Topi untuk uji.", "en": "A cap for tests."},
        "image_url": "https://cdn.example.com/rewards/cap.jpg",
    }
    admin(backend, "POST", "/admin/rewards", last_one)
    try:
        chat = Chat(BUDI)
        # A reward with a picture shows it first, then its details.
        [picture, confirmation] = await chat.tap('/redeem_reward{"reward_code": "TEST-LAST"}')
        assert picture["image"] == last_one["image_url"]
        assert [p["type"] for p in whatsapp(picture, "id")] == ["image"]
        assert confirmation["response"] == "utter_redeem_confirm_goods"
        # Meanwhile Joko takes the last one.
        taken = backend_call(backend, "POST", f"/partners/by-wa/{JOKO}/redemptions",
                             {"reward_code": "TEST-LAST", "idempotency_key": "wa:joko-last"})
        assert taken.status_code == 201, taken.text

        before = balance_of(backend, BUDI)
        [refusal] = await chat.tap(confirm_button(confirmation, "id"))
        assert refusal["response"] == "utter_redeem_out_of_stock"
        assert "stok *Topi Mitra (uji)* sedang habis" in text_of(refusal, "id")
        assert refusal["buttons"][0]["payload"] == '/redeem_reward{"reward_code": "KAOS-MITRA"}'
        assert len(refusal["buttons"]) <= 3
        whatsapp(refusal, "id")
        assert balance_of(backend, BUDI) == before and chat.active_loop == {}

        # Asked again later: out of stock at once, no confirmation.
        [again] = await chat.tap('/redeem_reward{"reward_code": "TEST-LAST"}')
        assert again["response"] == "utter_redeem_out_of_stock"
        assert chat.active_loop == {}
    finally:
        admin(backend, "POST", "/admin/rewards", {**last_one, "stock": 0, "active": False})


async def test_goods_go_to_the_address_on_file_or_a_changed_one(use_rewards_backend):
    backend = use_rewards_backend
    on_file = backend_get(backend, f"/partners/by-wa/{ANDI}")["address"]
    assert on_file
    chat = Chat(ANDI)
    [confirmation] = await chat.tap('/redeem_reward{"reward_code": "KAOS-MITRA"}')
    assert confirmation["response"] == "utter_redeem_confirm_goods"
    assert f"📦 Dikirim ke: {on_file}" in text_of(confirmation, "id")
    [payload] = whatsapp(confirmation, "id", to=ANDI)
    assert [b["reply"]["title"] for b in payload["interactive"]["action"]["buttons"]] == [
        "Tukar", "Ubah alamat", "Batal"]

    change = shown(confirmation, "id")["buttons"][1]["payload"]
    assert responses(await chat.tap(change)) == ["utter_redeem_ask_address"]
    assert responses(await chat.say("inform", "jl abc")) == ["utter_redeem_address_invalid"]
    new_address = "Jl. Sisingamangaraja No. 5, Medan Kota, Medan 20212"
    [confirmation] = await chat.say("inform", new_address)
    typed_at = chat.message_id
    assert f"📦 Dikirim ke: {new_address}" in text_of(confirmation, "id")
    assert confirm_button(confirmation, "id").endswith(f'"redeem_key": "wa:{typed_at}"}}')

    [done] = await chat.tap(confirm_button(confirmation, "id"))
    assert done["response"] == "utter_redeem_done_goods"
    assert done["address"] == new_address
    assert "status penukaran" in text_of(done, "id")
    assert backend_get(backend, f"/partners/by-wa/{ANDI}")["address"] == new_address
    assert redemptions_of(backend, ANDI)[0]["delivery_address"] == new_address


async def test_goods_without_an_address_ask_for_it_first(use_rewards_backend):
    backend = use_rewards_backend
    assert backend_get(backend, f"/partners/by-wa/{RINA}")["address"] is None
    earn(backend, RINA, 1500, "rina-kaos")
    chat = Chat(RINA)
    [question] = await chat.say("redeem_reward", "mau tukar kaos", reward="kaos")
    assert question["response"] == "utter_redeem_ask_address"
    assert "Ketik alamat pengiriman lengkap" in text_of(question, "id")
    address = "Rina Lestari, Jl. Andi Pangeran Pettarani No. 3, Makassar 90222"
    [confirmation] = await chat.say("nlu_fallback", address)
    assert confirmation["response"] == "utter_redeem_confirm_goods"
    assert confirmation["address"] == address
    [done] = await chat.say("affirm", "ya")
    assert done["response"] == "utter_redeem_done_goods"
    assert backend_get(backend, f"/partners/by-wa/{RINA}")["address"] == address
    assert balance_of(backend, RINA) == 0


async def test_english_redemption(use_rewards_backend):
    chat = Chat(SARAH, "en")
    [confirmation] = await chat.say("redeem_reward", "redeem phone credit",
                                    reward="phone credit")
    assert confirmation["reward_code"] == "PULSA-25K"
    text = text_of(confirmation, "en")
    assert "Cost: *500 points*" in text and "Redeem now?" in text
    assert [b["title"] for b in shown(confirmation, "en")["buttons"]] == ["Redeem", "Cancel"]
    [done] = await chat.say("affirm", "yes")
    assert "has been sent to this number" in text_of(done, "en")


async def test_backend_down_at_the_confirmation_keeps_it_and_redeems_once(
    use_rewards_backend, monkeypatch
):
    backend = use_rewards_backend
    before = balance_of(backend, ANDI)
    chat = Chat(ANDI)
    [confirmation] = await chat.tap('/redeem_reward{"reward_code": "PULSA-25K"}')
    monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{free_port()}")
    backend_client.reset_client()
    assert responses(await chat.say("affirm", "ya")) == [
        "utter_backend_error", "utter_redeem_confirm"]
    assert chat.active_loop == {"name": FORM}
    monkeypatch.setenv("BACKEND_URL", backend.url)
    backend_client.reset_client()
    [done] = await chat.tap(confirm_button(confirmation, "id"))
    assert done["response"] in ("utter_redeem_done_ewallet", "utter_redeem_done_processing")
    assert balance_of(backend, ANDI) == before - 500


async def test_a_stranger_is_told_how_to_join(use_rewards_backend):
    for intent in ("browse_rewards", "redeem_reward", "redemption_status"):
        chat = Chat(STRANGER)
        assert responses(await chat.say(intent, "katalog")) == ["utter_not_registered"]


# ------------------------------------------------------------------- status


async def test_status_vouchers_again_and_one_redemption(use_rewards_backend):
    backend = use_rewards_backend
    chat = Chat(ANDI)
    mine = redemptions_of(backend, ANDI)
    assert mine, "the tests above redeemed for Andi"
    goods = next(r for r in mine if r["reward_code"] == "KAOS-MITRA")
    admin(backend, "PATCH", f"/admin/redemptions/{goods['redemption_no']}",
          {"status": "shipped", "courier": "JNE", "tracking_no": "JNE123456789"})

    [listed] = await chat.say("redemption_status", "status penukaran")
    assert listed["response"] == "utter_redemption_list"
    for redemption in mine[:5]:
        assert redemption["redemption_no"] in listed["lines"]
    assert "🚚 Dalam pengiriman · JNE resi JNE123456789" in listed["lines"]

    [vouchers] = await chat.say("redemption_status", "voucher saya")
    assert vouchers["response"] == "utter_voucher_list"
    voucher = next(r for r in mine if r.get("voucher_code"))
    assert f"Kode: *{voucher['voucher_code']}* (berlaku s.d." in vouchers["lines"]
    assert "KAOS" not in vouchers["lines"] and "Kaos" not in vouchers["lines"]

    number = goods["redemption_no"]
    [detail] = await chat.say("redemption_status", f"cek {number.lower()}",
                              redemption_no=number)
    assert detail["response"] == "utter_redemption_detail"
    assert number in detail["details"] and "JNE123456789" in detail["details"]

    # Another partner cannot read it.
    [other] = await Chat(BUDI).say("redemption_status", f"status {number}")
    assert other["response"] == "utter_redemption_not_found"


async def test_status_in_english(use_rewards_backend):
    [listed] = await Chat(SARAH, "en").say("redemption_status", "my redemptions")
    assert listed["response"] == "utter_redemption_list"
    assert "Phone credit / e-wallet Rp25,000" in listed["lines"]
    assert "✅ Completed" in listed["lines"]


async def test_no_vouchers_yet_shows_the_other_redemptions(use_rewards_backend):
    answers = await Chat(JOKO).say("redemption_status", "kode voucher saya mana")
    assert responses(answers) == ["utter_voucher_list_empty", "utter_redemption_list"]


# ------------------------------------------------------------------- pieces


def test_interrupting_intents_match_the_domain():
    [mapping] = [m for m in DOMAIN["slots"]["redeem_answer"]["mappings"] if "not_intent" in m]
    assert sorted(mapping["not_intent"]) == sorted(INTERRUPTING_INTENTS)


@pytest.mark.parametrize(("text", "query"), [
    ("mau tukar poin jadi pulsa", "pulsa"),
    ("redeem voucher 50rb dong", "voucher 50rb"),
    ("tukar poin", None),
    ("i want to redeem my points", None),
    ("sy mau tukar kaos mitra", "kaos mitra"),
])
def test_the_reward_in_the_partners_words(text, query):
    tracker = Tracker("x", {}, {"text": text, "intent": {"name": "redeem_reward"},
                                "entities": []}, [], False, None, {}, "action_listen")
    assert rewards.reward_query(tracker) == query


def test_an_amount_picks_the_voucher():
    items = [{"code": "VCR-50K", "name": {"id": "Voucher belanja Rp50.000"}},
             {"code": "VCR-100K", "name": {"id": "Voucher belanja Rp100.000"}}]
    assert [i["code"] for i in rewards._narrow("voucher 100rb", items)] == ["VCR-100K"]
    assert [i["code"] for i in rewards._narrow("voucher 50k", items)] == ["VCR-50K"]
    assert len(rewards._narrow("voucher", items)) == 2
    assert [i["code"] for i in rewards._narrow("vcr-50k", items)] == ["VCR-50K"]


def test_redemption_lines_in_both_languages():
    cancelled = {"redemption_no": "RDM-000007", "reward_name": {"id": "Kaos Mitra",
                                                                "en": "Mitra T-shirt"},
                 "status": "cancelled", "status_label": {"id": "Dibatalkan", "en": "Cancelled"},
                 "refunded_points": 1500, "created_at": "2026-11-20T03:00:00+00:00"}
    assert redemption_line(cancelled, "id") == (
        "• *RDM-000007* · Kaos Mitra · 20 Nov 2026\n   ↩️ Dibatalkan · +1.500 poin dikembalikan")
    assert redemption_line(cancelled, "en").endswith("↩️ Cancelled · +1,500 points refunded")
