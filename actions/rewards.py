"""Rewards in chat (issue 18): the catalogue, redeeming a reward after a confirmation, and
what became of the rewards a partner redeemed.

Slots (bot/domain.yml): ``rewards_page`` (the catalogue page shown last, so "lagi" shows
the next), ``redeem_draft`` (the reward waiting for a confirmation: its code, names, cost,
the balance it was offered at, the delivery address and the idempotency key),
``redeem_stage`` (``review`` while ``redeem_form`` waits for the partner, ``idle``
otherwise) and ``redeem_answer`` (the form's one slot: every answer while a redemption
waits is read by :class:`ValidateRedeemForm`; ``done`` ends the form).

The confirm button's payload carries the idempotency key, ``wa:<id of the message that
opened the confirmation>``: a double tap or a redelivered tap sends the same key, the
backend replays the first redemption (200), and the partner reads the same redemption
again. Which rewards a partner may redeem, what they cost and whether a redemption can be
made are the backend's answers; this module only asks and renders.
"""

from __future__ import annotations

import json
import re
from typing import Any

import structlog
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendClient,
    BackendConflict,
    BackendNotFound,
    BackendRefused,
    BackendUnavailable,
    PartnerInactive,
    PartnerNotFound,
    get_client,
)
from actions.base import INACTIVE_RESPONSES, PartnerAction
from actions.claim_draft import is_cancel_text
from actions.conversation import (
    FLOW_INTERRUPTING_INTENTS,
    entity,
    idempotency_key,
    intent,
    is_button,
    text,
)
from actions.formatting import (
    REDEMPTION_STATUS_ICONS,
    format_date,
    format_day_month,
    format_points,
    localised,
    normalise_language,
    reward_label,
)
from actions.logging_utils import mask_id
from actions.offload import in_worker_thread

logger = structlog.get_logger(__name__)

FORM = "redeem_form"
ANSWER = "redeem_answer"
DRAFT = "redeem_draft"
STAGE = "redeem_stage"
PAGE = "rewards_page"
STAGE_REVIEW, STAGE_IDLE = "review", "idle"
DONE = "done"  # redeem_answer value that ends the form (redeemed, refused or cancelled)
STEP_CONFIRM, STEP_ADDRESS = "confirm", "address"

# Intents that leave a waiting redemption waiting (redeem_answer's `not_intent` in the
# domain): the bot answers them, then shows the confirmation again. A test keeps both
# lists equal.
INTERRUPTING_INTENTS = (
    "check_balance", "tier_status", "points_history", "expiring_points", "claim_status",
    "redemption_status", "help", "menu", "change_language",
    *FLOW_INTERRUPTING_INTENTS,
)
# Answers that leave the redemption for another flow: it is cancelled, and the partner
# is asked to send that again (two forms cannot wait at once).
OTHER_FLOW_INTENTS = ("submit_claim", "share_media", "claim_display")

PAGE_SIZE = 9  # + a "more" row: WhatsApp lists hold 10 rows
ROW_TITLE_MAX = 24  # WhatsApp's limit for a list row's title
SCAN_LIMIT = 50  # rewards read to suggest alternatives
ALTERNATIVES_MAX = 3
RECENT_REDEMPTIONS = 5
VOUCHER_SCAN = 20
ADDRESS_MIN, ADDRESS_MAX = 10, 300
GOODS_KINDS = frozenset({"merchandise", "business_supply"})

_REDEMPTION_NO = re.compile(r"\bRDM[-\s]?(\d{1,9})\b", re.IGNORECASE)
_VOUCHER_WORDS = re.compile(
    r"\b(vouchers?\w*|vocer\w*|voucer\w*|vcr|kode|kodenya|codes?)\b", re.IGNORECASE
)
# "50rb", "50 ribu", "50k", "50.000", "Rp50.000", "VCR-50K" → 50000.
_AMOUNT = re.compile(r"(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(rb|ribu|k|jt|juta)?(?![a-z])",
                     re.IGNORECASE)
# Words around a reward's name in "mau tukar poin jadi voucher 50rb": not the reward.
_QUERY_FILLER = frozenset("""
    mau mw mo pengen pengin ingin tukar tuker tukerin tukarkan nukar penukaran tukarin
    redeem redem reedem redeemin sy saya aku ku gw gue poin point points poinku poinnya
    jadi jd ke dengan dgn sama dong ya yaa kak min gan bos sekarang skrg aja ambil pilih
    pake pakai buat untuk utk i want to my the a an for please pls now get exchange swap
    use hadiah reward rewards gift gifts katalog catalog catalogue apa aja yg yang ada bisa
    can what show me lihat liat cek check nya dulu yuk gas ok oke this one it gimana gmn
    cara caranya how do does tolong mohon dapat dapet dpt like would i'd i'll take
    spend on cash out in convert tukar-tukar proses process checkout claim klaim
""".split())


# ----------------------------------------------------------------------- helpers


def _name(reward: dict[str, Any], language: str) -> str:
    return localised(reward.get("name") or reward.get("reward_name"), language) or str(
        reward.get("code") or reward.get("reward_code") or ""
    )


def _payload(intent_name: str, **entities: Any) -> str:
    return f"/{intent_name}{json.dumps(entities)}" if entities else f"/{intent_name}"


def _problem(reward: dict[str, Any]) -> str | None:
    """Why this partner cannot redeem the reward now (the backend's code), or None."""
    unavailable = reward.get("unavailable") or {}
    if unavailable.get("code"):
        return str(unavailable["code"])
    if not reward.get("in_stock", True):
        return "out_of_stock"
    if not reward.get("affordable", True):
        return "insufficient_points"
    return None


def _row_description(reward: dict[str, Any], language: str) -> str:
    cost = f"{format_points(reward.get('cost', 0), language)} {reward_label('points', language)}"
    problem = _problem(reward)
    if problem == "out_of_stock":
        state = reward_label("out_of_stock", language)
    elif problem == "insufficient_points":
        state = reward_label("points_short", language,
                             points=format_points(reward.get("points_short", 0), language))
    elif problem:
        state = localised((reward.get("unavailable") or {}).get("description"), language)
    else:
        state = reward_label("can_redeem", language)
    return f"{cost} · {state}" if state else cost


def _row_title(name: str) -> tuple[str, str]:
    """A name too long for a row's title is cut between words; the rest ("Rp100.000")
    leads the description instead of being lost behind "…"."""
    if len(name) <= ROW_TITLE_MAX:
        return name, ""
    cut = name.rfind(" ", 0, ROW_TITLE_MAX + 1)
    if cut < ROW_TITLE_MAX // 2:
        return name, ""  # no good place: the renderer shortens it
    return name[:cut].rstrip(" /-·"), name[cut:].strip()


def reward_rows(
    rewards: list[dict[str, Any]], language: str, section: str | None = None
) -> list[dict[str, Any]]:
    """List rows (Rasa buttons) for rewards: tapping one asks to redeem it. Grouped by kind
    unless ``section`` names the one section they go in."""
    rows = []
    for reward in rewards:
        title, rest = _row_title(_name(reward, language))
        description = _row_description(reward, language)
        rows.append({
            "title": title,
            "payload": _payload("redeem_reward", reward_code=reward["code"]),
            "description": f"{rest} · {description}" if rest else description,
            "section": section or localised(reward.get("kind_label"), language)
            or reward.get("kind", ""),
        })
    return rows


def _amounts(value: str) -> set[int]:
    found = set()
    for number, unit in _AMOUNT.findall(value or ""):
        amount = int(re.sub(r"[.,]", "", number))
        unit = unit.lower()
        if unit in ("rb", "ribu", "k") or (not unit and amount < 1000):
            amount *= 1000
        elif unit in ("jt", "juta"):
            amount *= 1_000_000
        found.add(amount)
    return found


def _narrow(query: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The partner named a code or an amount ("voucher 50rb"): keep the rewards that fit."""
    exact = [item for item in items if str(item.get("code", "")).lower() == query.lower()]
    if exact:
        return exact
    wanted = _amounts(query)
    if not wanted:
        return items
    fitting = [
        item for item in items
        if wanted & (_amounts(str(item.get("code", "")))
                     | _amounts(" ".join(str(v) for v in (item.get("name") or {}).values())))
    ]
    return fitting or items


def reward_query(tracker: Tracker) -> str | None:
    """What reward the partner named: the ``reward`` entity, else their words without the
    ones around it ("mau tukar poin jadi pulsa" → "pulsa"); None when nothing is left."""
    named = entity(tracker, "reward")
    if named:
        return named.strip()
    if is_button(tracker):
        return None
    words = [
        word for word in re.findall(r"[\w.,'-]+", text(tracker).lower())
        if word.strip(".,'-") and word.strip(".,'-") not in _QUERY_FILLER
    ]
    query = " ".join(words).strip(" .,")
    return query or None


def _redemption_no(tracker: Tracker) -> str | None:
    named = entity(tracker, "redemption_no") or ""
    match = _REDEMPTION_NO.search(named) or _REDEMPTION_NO.search(text(tracker))
    return f"RDM-{int(match.group(1)):06d}" if match else None


def _page_offset(tracker: Tracker) -> int | None:
    value = entity(tracker, "page_offset")
    try:
        return max(0, int(float(value))) if value is not None else None
    except ValueError:
        return None


# ----------------------------------------------------------------------- the catalogue


def show_catalogue(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str,
    offset: int = 0, query: str | None = None,
) -> list[EventType]:
    """One page of the rewards this partner may redeem, as a WhatsApp list grouped by kind,
    with the balance (and the points about to expire) on top."""
    page = client.list_rewards(tracker.sender_id, q=query, limit=PAGE_SIZE, offset=offset)
    if query and not page.get("items") and offset == 0:
        dispatcher.utter_message(response="utter_rewards_not_found", query=query)
        query = None
        page = client.list_rewards(tracker.sender_id, limit=PAGE_SIZE, offset=0)
    items, total = page.get("items") or [], int(page.get("total") or 0)
    balance = format_points(page.get("balance", 0), language)
    if not items:
        if offset and total:
            dispatcher.utter_message(response="utter_rewards_end", total=total)
        else:
            dispatcher.utter_message(response="utter_rewards_empty", balance=balance)
        return [SlotSet(PAGE, None)]
    first, last = offset + 1, offset + len(items)
    buttons = reward_rows(items, language)
    if last < total:
        more_last = min(total, last + PAGE_SIZE)
        buttons.append({
            "title": reward_label("more_title", language),
            "payload": _payload("more_rewards", page_offset=last),
            "description": reward_label("more_description", language, first=last + 1,
                                        last=more_last, total=total),
            "section": reward_label("section_more", language),
        })
    values = {"balance": balance, "first": first, "last": last, "total": total}
    expiring = page.get("expiring_soon_points") or 0
    if expiring and page.get("expiring_soon_date") and offset == 0:
        dispatcher.utter_message(
            response="utter_rewards_catalogue_expiring", buttons=buttons, **values,
            expiring_points=format_points(expiring, language),
            expiring_date=format_day_month(page["expiring_soon_date"], language),
        )
    else:
        dispatcher.utter_message(response="utter_rewards_catalogue", buttons=buttons, **values)
    return [SlotSet(PAGE, {"offset": offset, "query": query})]


def _next_page(tracker: Tracker) -> tuple[int, str | None]:
    """The page "lagi"/"more" asks for: the tapped row's offset, else the one after the
    page shown last (the first page when none was shown)."""
    shown = tracker.get_slot(PAGE) or {}
    tapped = _page_offset(tracker)
    if tapped is not None:
        return tapped, shown.get("query")
    if not shown:
        return 0, None
    return int(shown.get("offset") or 0) + PAGE_SIZE, shown.get("query")


# ----------------------------------------------------------------------- redeeming


class Outcome:
    """What a redemption request came to: a draft waiting for the partner (``reviewing``),
    or an answer already given (with the draft to keep, for a replayed tap)."""

    def __init__(self, draft: dict[str, Any] | None, reviewing: bool,
                 events: list[EventType] | None = None) -> None:
        self.draft = draft
        self.reviewing = reviewing
        self.events = events or []


def _alternatives(
    client: BackendClient, tracker: Tracker, reward: dict[str, Any], same_kind_first: bool
) -> list[dict[str, Any]]:
    """Rewards the partner can redeem right now instead: the same kind first (when asked),
    then the dearest they can afford."""
    items = client.list_rewards(tracker.sender_id, limit=SCAN_LIMIT).get("items") or []
    ready = [i for i in items if i.get("code") != reward.get("code") and not _problem(i)]
    ready.sort(key=lambda i: (
        not (same_kind_first and i.get("kind") == reward.get("kind")), -int(i.get("cost", 0))
    ))
    return ready[:ALTERNATIVES_MAX]


def _explain(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str,
    reward: dict[str, Any], problem: str, points_short: int | None = None,
) -> None:
    """Why the reward cannot be redeemed, with what the partner can do instead."""
    name = _name(reward, language)
    if problem == "insufficient_points":
        short = points_short if points_short is not None else reward.get("points_short", 0)
        cost = int(reward.get("cost", 0))
        alternatives = _alternatives(client, tracker, reward, same_kind_first=False)
        buttons = reward_rows(alternatives, language,
                              section=reward_label("section_alternatives", language))
        earn = {"title": reward_label("earn_claim", language),
                "payload": _payload("submit_claim")}
        if buttons:
            buttons.append({**earn, "description": reward_label("earn_claim_description",
                                                                language),
                            "section": reward_label("section_earn", language)})
        else:
            buttons = [{**earn, "title": reward_label("earn_claim_short", language)},
                       {"title": reward_label("catalogue", language),
                        "payload": _payload("browse_rewards")}]
        dispatcher.utter_message(
            response="utter_redeem_insufficient", reward=name,
            cost=format_points(cost, language), points_short=format_points(short, language),
            balance=format_points(max(0, cost - short), language), buttons=buttons,
        )
    elif problem == "out_of_stock":
        alternatives = _alternatives(client, tracker, reward, same_kind_first=True)
        buttons = reward_rows(alternatives, language,
                              section=reward_label("section_alternatives", language))
        dispatcher.utter_message(
            response="utter_redeem_out_of_stock" if buttons
            else "utter_redeem_out_of_stock_no_alternative",
            reward=name, buttons=buttons,
        )
    else:
        reason = localised((reward.get("unavailable") or {}).get("description"), language)
        dispatcher.utter_message(response="utter_redeem_unavailable", reward=name,
                                 reason=reason or "-")


def _offer(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str,
    reward: dict[str, Any], step: str | None = None,
) -> Outcome:
    """A reward the partner asked for: a draft to confirm, or why it cannot be had."""
    problem = _problem(reward)
    if problem:
        logger.info("redeem.unavailable", sender=mask_id(tracker.sender_id),
                    reward=reward.get("code"), problem=problem)
        _explain(dispatcher, tracker, client, language, reward, problem)
        return Outcome(None, False)
    balance = client.get_balance(tracker.sender_id)["available_points"]
    needs_address = bool(reward.get("needs_address"))
    address = client.get_partner(tracker.sender_id).get("address") if needs_address else None
    draft = {
        "reward_code": reward["code"],
        "name": reward.get("name"),
        "description": reward.get("description"),
        "kind": reward.get("kind"),
        "cost": int(reward.get("cost", 0)),
        "balance": int(balance),
        "needs_address": needs_address,
        "address": address,
        "address_new": False,
        "image_url": reward.get("image_url"),
        # The message that opened this confirmation (docs/contracts.md).
        "key": idempotency_key(tracker),
        "step": STEP_ADDRESS if needs_address and (step == STEP_ADDRESS or not address)
        else STEP_CONFIRM,
        "shown": False,
    }
    logger.info("redeem.offered", sender=mask_id(tracker.sender_id), reward=reward["code"],
                step=draft["step"])
    return Outcome(draft, True)


def handle_redeem_request(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str,
) -> Outcome:
    """"tukar poin", "redeem voucher 50rb", a tapped row, a tapped confirm button."""
    current = tracker.get_slot(DRAFT) or {}
    code = entity(tracker, "reward_code")
    key = entity(tracker, "redeem_key")
    if code and key:  # the confirm button (or a second tap on it: the backend replays)
        draft = current if current.get("key") == key else {"reward_code": code, "key": key}
        return redeem(dispatcher, tracker, client, language, draft)
    if code:
        reward = client.get_reward(tracker.sender_id, code)
        if reward is None:
            dispatcher.utter_message(response="utter_reward_unknown")
            return Outcome(None, False, show_catalogue(dispatcher, tracker, client, language))
        return _offer(dispatcher, tracker, client, language, reward,
                      step=entity(tracker, "redeem_step"))
    query = reward_query(tracker)
    if not query:
        return Outcome(None, False, show_catalogue(dispatcher, tracker, client, language))
    page = client.list_rewards(tracker.sender_id, q=query, limit=PAGE_SIZE)
    items = _narrow(query, page.get("items") or [])
    if not items:
        dispatcher.utter_message(response="utter_rewards_not_found", query=query)
        return Outcome(None, False, show_catalogue(dispatcher, tracker, client, language))
    if len(items) == 1:
        return _offer(dispatcher, tracker, client, language, items[0])
    dispatcher.utter_message(response="utter_redeem_pick", query=query,
                             buttons=reward_rows(items, language))
    return Outcome(None, False)


def redeem(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str,
    draft: dict[str, Any],
) -> Outcome:
    """Send the redemption with the draft's key; render what the backend made of it."""
    body: dict[str, Any] = {"reward_code": draft["reward_code"],
                            "idempotency_key": draft["key"]}
    if draft.get("address_new") and draft.get("address"):
        body["delivery_address"] = draft["address"]
    sender = mask_id(tracker.sender_id)
    try:
        redemption = client.redeem(tracker.sender_id, body)
    except BackendConflict as error:
        logger.info("redeem.refused", sender=sender, reward=draft["reward_code"],
                    code=error.code)
        return _refused(dispatcher, tracker, client, language, draft, error)
    except BackendNotFound:
        dispatcher.utter_message(response="utter_reward_unknown")
        return Outcome(None, False)
    except BackendRefused as error:
        logger.warning("redeem.invalid", sender=sender, detail=error.detail[:200])
        dispatcher.utter_message(response="utter_redeem_refused")
        return Outcome(None, False)
    logger.info("redeem.done", sender=sender, reward=draft["reward_code"],
                redemption_no=redemption.get("redemption_no"), status=redemption.get("status"))
    render_redemption_done(dispatcher, redemption, language)
    return Outcome({**draft, "done": True, "redemption_no": redemption.get("redemption_no")},
                   False)


def _refused(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str,
    draft: dict[str, Any], error: BackendConflict,
) -> Outcome:
    if error.code == "address_required":
        if "name" in draft:
            return Outcome({**draft, "step": STEP_ADDRESS, "needs_address": True,
                            "shown": False}, True)
        reward = client.get_reward(tracker.sender_id, draft["reward_code"])  # an old button
        if reward is not None:
            return _offer(dispatcher, tracker, client, language,
                          {**reward, "needs_address": True}, step=STEP_ADDRESS)
    if error.code == "idempotency_conflict":
        dispatcher.utter_message(response="utter_redeem_already_used")
        return Outcome(None, False)
    reward = client.get_reward(tracker.sender_id, draft["reward_code"])
    if reward is None:
        dispatcher.utter_message(response="utter_reward_unknown")
        return Outcome(None, False)
    problem = error.code if error.code in (
        "insufficient_points", "out_of_stock") else (_problem(reward) or error.code or "")
    if problem not in ("insufficient_points", "out_of_stock") and (
        error.description or not reward.get("unavailable")
    ):
        reward = {**reward, "unavailable": {"code": problem, "description": error.description
                                            or {"id": error.detail, "en": error.detail}}}
    _explain(dispatcher, tracker, client, language, reward, problem, error.points_short)
    return Outcome(None, False)


def render_redemption_done(
    dispatcher: CollectingDispatcher, redemption: dict[str, Any], language: str
) -> None:
    """The redemption just made: its number, points spent, balance after, and what comes
    next for its kind (a voucher's code at once, pulsa sent or on its way, goods shipped)."""
    values = {
        "redemption_no": redemption.get("redemption_no", ""),
        "reward": _name(redemption, language),
        "points": format_points(redemption.get("points_spent", 0), language),
        "balance": format_points(redemption.get("balance_after", 0), language),
        "status": localised(redemption.get("status_label"), language)
        or redemption.get("status", ""),
    }
    kind, status = redemption.get("kind"), redemption.get("status")
    if status == "cancelled":  # e.g. the payout provider refused: the points came back
        dispatcher.utter_message(
            response="utter_redeem_done_cancelled", note=redemption.get("note") or "-",
            refunded=format_points(redemption.get("refunded_points")
                                   or redemption.get("points_spent", 0), language),
            **values,
        )
    elif redemption.get("voucher_code"):
        expires = redemption.get("voucher_expires_at")
        dispatcher.utter_message(
            response="utter_redeem_done_voucher", voucher_code=redemption["voucher_code"],
            expires=format_date(expires, language) if expires else "-", **values,
        )
    elif redemption.get("delivery_address") or kind in GOODS_KINDS:
        dispatcher.utter_message(response="utter_redeem_done_goods",
                                 address=redemption.get("delivery_address") or "-", **values)
    elif kind == "ewallet" and status == "fulfilled":
        dispatcher.utter_message(response="utter_redeem_done_ewallet", **values)
    else:
        dispatcher.utter_message(response="utter_redeem_done_processing", **values)


def _outcome_events(outcome: Outcome) -> list[EventType]:
    events = list(outcome.events)
    if outcome.draft is not None:
        events.append(SlotSet(DRAFT, outcome.draft))
    events.append(SlotSet(STAGE, STAGE_REVIEW if outcome.reviewing else STAGE_IDLE))
    return events


# ----------------------------------------------------------------------- actions


class ActionBrowseRewards(PartnerAction):
    """"katalog", "hadiah apa aja": the first page of the catalogue (a reward named in
    the question narrows it: "ada voucher pulsa gk")."""

    def name(self) -> str:
        return "action_browse_rewards"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        return show_catalogue(dispatcher, tracker, client, language,
                              query=entity(tracker, "reward"))


class ActionMoreRewards(PartnerAction):
    """"lagi", "more", the "Lainnya" row: the next page of the catalogue."""

    def name(self) -> str:
        return "action_more_rewards"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        offset, query = _next_page(tracker)
        return show_catalogue(dispatcher, tracker, client, language, offset=offset,
                              query=query)


class ActionRedeemReward(PartnerAction):
    """Resolve the reward asked for and open its confirmation (``redeem_stage: review``
    starts ``redeem_form``), or answer at once: the catalogue, a list to pick from, why it
    cannot be had, or — for a tapped confirm button — the redemption itself."""

    def name(self) -> str:
        return "action_redeem_reward"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        return _outcome_events(handle_redeem_request(dispatcher, tracker, client, language))


class ActionAskRedeemAnswer(Action):
    """Show the waiting redemption: the delivery address question, or the details with
    the buttons to redeem (its payload carries the key), change the address or cancel."""

    def name(self) -> str:
        return "action_ask_redeem_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = normalise_language(tracker.get_slot("language"))
        draft = tracker.get_slot(DRAFT)
        if not draft or draft.get("done"):
            return []
        if draft.get("quiet"):  # the validation just said what to do
            return [SlotSet(DRAFT, {**draft, "quiet": False})]
        name = _name(draft, language)
        if intent(tracker) in INTERRUPTING_INTENTS and draft.get("shown"):
            dispatcher.utter_message(response="utter_redeem_waiting", reward=name)
        if draft.get("step") == STEP_ADDRESS:
            dispatcher.utter_message(response="utter_redeem_ask_address", reward=name)
        else:
            if draft.get("image_url") and not draft.get("shown"):
                dispatcher.utter_message(image=draft["image_url"])
            cost, balance = int(draft.get("cost", 0)), int(draft.get("balance", 0))
            dispatcher.utter_message(
                response="utter_redeem_confirm_goods" if draft.get("needs_address")
                else "utter_redeem_confirm",
                reward=name,
                description=localised(draft.get("description"), language) or "",
                cost=format_points(cost, language),
                balance=format_points(balance, language),
                balance_after=format_points(balance - cost, language),
                address=draft.get("address") or "-",
                reward_code=draft["reward_code"],
                redeem_key=draft["key"],
            )
        if draft.get("shown"):
            return []
        return [SlotSet(DRAFT, {**draft, "shown": True})]


class ValidateRedeemForm(FormValidationAction):
    """Reads every answer while a redemption waits: redeem (the button or "ya"), cancel,
    the delivery address, another reward, or the catalogue."""

    def name(self) -> str:
        return "validate_redeem_form"

    async def validate_redeem_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        language = normalise_language(tracker.get_slot("language"))
        try:
            return await in_worker_thread(
                self.answer, dispatcher, tracker, get_client(), language
            )
        except PartnerNotFound:
            dispatcher.utter_message(response="utter_not_registered")
            return {ANSWER: DONE, DRAFT: None}
        except PartnerInactive as error:
            dispatcher.utter_message(response=INACTIVE_RESPONSES[error.status])
            return {ANSWER: DONE, DRAFT: None}
        except BackendUnavailable:  # the draft and its key stay: redeeming again replays
            dispatcher.utter_message(response="utter_backend_error")
            return {ANSWER: None}
        except Exception:  # a bug must not leave the partner unanswered
            logger.exception("action.failed", action=self.name(),
                             sender=mask_id(tracker.sender_id))
            dispatcher.utter_message(response="utter_backend_error")
            return {ANSWER: None}

    def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> dict[str, Any]:
        draft = dict(tracker.get_slot(DRAFT) or {})
        if not draft or draft.get("done"):
            return {ANSWER: DONE}
        said, tapped, name = intent(tracker), is_button(tracker), _name(draft, language)
        typed = "" if tapped else text(tracker)

        if (said == "deny" and (tapped or draft.get("step") == STEP_CONFIRM)) or (
            typed and is_cancel_text(typed)
        ):
            logger.info("redeem.cancelled", sender=mask_id(tracker.sender_id),
                        reward=draft.get("reward_code"))
            dispatcher.utter_message(response="utter_redeem_cancelled", reward=name)
            return {ANSWER: DONE, DRAFT: None}
        if said == "redeem_reward" and draft.get("step") == STEP_CONFIRM and not (
            entity(tracker, "reward_code") or reward_query(tracker)
        ):
            said = "affirm"  # "tukar", "gas redeem": this one, now
        if said == "redeem_reward":
            return self._settled(handle_redeem_request(dispatcher, tracker, client, language))
        if said in ("browse_rewards", "more_rewards"):
            offset, query = _next_page(tracker) if said == "more_rewards" else (0, None)
            events = show_catalogue(dispatcher, tracker, client, language, offset=offset,
                                    query=query if said == "more_rewards"
                                    else entity(tracker, "reward"))
            return {ANSWER: DONE, DRAFT: None, **_slot_values(events)}
        if said in OTHER_FLOW_INTENTS:
            dispatcher.utter_message(response="utter_redeem_left", reward=name)
            return {ANSWER: DONE, DRAFT: None}

        if draft.get("step") == STEP_ADDRESS:
            address = " ".join(typed.split())
            if len(address) < ADDRESS_MIN or len(address) > ADDRESS_MAX:
                dispatcher.utter_message(response="utter_redeem_address_invalid",
                                         min=ADDRESS_MIN, max=ADDRESS_MAX)
                return {ANSWER: None, DRAFT: {**draft, "quiet": True}}
            # The address message opens the confirmation: its id keys the redemption.
            return {ANSWER: None, DRAFT: {**draft, "address": address, "address_new": True,
                                          "step": STEP_CONFIRM,
                                          "key": idempotency_key(tracker), "shown": False}}
        if said == "affirm":
            return self._settled(redeem(dispatcher, tracker, client, language, draft))
        dispatcher.utter_message(response="utter_redeem_unclear")
        return {ANSWER: None}

    @staticmethod
    def _settled(outcome: Outcome) -> dict[str, Any]:
        return {ANSWER: None if outcome.reviewing else DONE, DRAFT: outcome.draft,
                **_slot_values(outcome.events)}


def _slot_values(events: list[EventType]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


class ActionRedeemDone(Action):
    """After the form: nothing waits any more. The last draft stays (with its key and
    address) so that a second tap on its confirm button replays the same redemption."""

    def name(self) -> str:
        return "action_redeem_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet(ANSWER, None), SlotSet(STAGE, STAGE_IDLE)]


# ----------------------------------------------------------------------- status


class ActionRedemptionStatus(PartnerAction):
    """"status penukaran": the latest redemptions with their status; "voucher saya" (the
    message mentions a voucher or a code): the vouchers with their codes again; "RDM-…":
    that redemption."""

    def name(self) -> str:
        return "action_redemption_status"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        number = _redemption_no(tracker)
        if number:
            redemption = client.get_redemption(tracker.sender_id, number)
            if redemption is None:
                dispatcher.utter_message(response="utter_redemption_not_found",
                                         redemption_no=number)
            else:
                dispatcher.utter_message(response="utter_redemption_detail",
                                         redemption_no=number,
                                         details=redemption_line(redemption, language))
            return []
        if not is_button(tracker) and _VOUCHER_WORDS.search(text(tracker)):
            items = client.list_redemptions(tracker.sender_id, limit=VOUCHER_SCAN)["items"]
            vouchers = [r for r in items if r.get("voucher_code")][:RECENT_REDEMPTIONS]
            if vouchers:
                dispatcher.utter_message(
                    response="utter_voucher_list",
                    lines="\n".join(redemption_line(r, language) for r in vouchers),
                )
                return []
            items = items[:RECENT_REDEMPTIONS]
            if items:  # none of them a voucher: say so, then show what there is
                dispatcher.utter_message(response="utter_voucher_list_empty")
        else:
            items = client.list_redemptions(tracker.sender_id,
                                            limit=RECENT_REDEMPTIONS)["items"]
        if not items:
            dispatcher.utter_message(response="utter_redemption_list_empty")
            return []
        dispatcher.utter_message(
            response="utter_redemption_list",
            lines="\n".join(redemption_line(r, language) for r in items),
        )
        return []


def redemption_line(redemption: dict[str, Any], language: str) -> str:
    """``• *RDM-000001* · Voucher belanja Rp50.000 · 12 Des 2026`` and, indented, its
    status with what goes with it: the voucher code, courier and tracking, points back."""
    head = f"• *{redemption.get('redemption_no', '')}* · {_name(redemption, language)}"
    if redemption.get("created_at"):
        head += f" · {format_date(redemption['created_at'], language)}"
    status = redemption.get("status", "")
    label = localised(redemption.get("status_label"), language) or status
    detail = f"\n   {REDEMPTION_STATUS_ICONS.get(status, '•')} {label}"
    if status in ("shipped", "delivered") and (redemption.get("courier")
                                               or redemption.get("tracking_no")):
        parts = [redemption.get("courier") or ""]
        if redemption.get("tracking_no"):
            parts.append(f"{reward_label('tracking', language)} {redemption['tracking_no']}")
        detail += " · " + " ".join(p for p in parts if p)
    if status == "cancelled" and redemption.get("refunded_points"):
        detail += (f" · +{format_points(redemption['refunded_points'], language)} "
                   f"{reward_label('refunded', language)}")
    if status == "requested" and redemption.get("delivery_address"):
        detail += f" · {reward_label('shipping_to', language)} {redemption['delivery_address']}"
    if redemption.get("voucher_code"):
        detail += f"\n   🎟️ {reward_label('voucher_code', language)}: *{redemption['voucher_code']}*"
        if redemption.get("voucher_expires_at"):
            detail += (f" ({reward_label('valid_until', language)} "
                       f"{format_date(redemption['voucher_expires_at'], language)})")
    return head + detail
