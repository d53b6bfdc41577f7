"""Sales and display claims: a photo (or a typed claim) becomes a draft the partner
reviews in ``claim_form``, corrects in plain words, and confirms; the backend judges it.

Slots (bot/domain.yml): ``claim_draft`` (the draft, see :mod:`actions.claim_draft`),
``claim_review`` (the form's one required slot: every answer while a draft waits is
read by :class:`ValidateClaimForm`; ``done`` ends the form), ``claim_stage`` (what the
dialogue waits for: ``review`` while the form runs, ``display`` when a display photo is
expected, ``idle``) and ``claim_photo`` (the last photo that did not become a sales
draft, so "Foto display" can claim it). Which product a name means and what a claim
earns are the backend's answers; this module only asks and renders.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import claim_draft as drafts
from actions.backend_client import (
    BackendClient,
    BackendConflict,
    BackendRefused,
    BackendUnavailable,
    PartnerInactive,
    PartnerNotFound,
    get_client,
)
from actions.base import INACTIVE_RESPONSES, PartnerAction
from actions.conversation import FLOW_INTERRUPTING_INTENTS, idempotency_key
from actions.conversation import entity as _entity
from actions.conversation import intent as _intent
from actions.conversation import text as _text
from actions.formatting import (
    claim_kind_label,
    claim_status_label,
    format_date,
    format_points,
    format_signed_points,
    localised,
    normalise_language,
)
from actions.logging_utils import mask_id
from actions.media import MediaUnavailable, download_media
from actions.offload import in_worker_thread

logger = structlog.get_logger(__name__)

FORM = "claim_form"
REVIEW = "claim_review"
DRAFT = "claim_draft"
STAGE = "claim_stage"
PHOTO = "claim_photo"
STAGE_REVIEW, STAGE_DISPLAY, STAGE_IDLE = "review", "display", "idle"
DONE = "done"  # claim_review value that ends the form (submitted, refused or cancelled)

# Intents that leave the draft waiting (claim_review's `not_intent` in the domain): the
# bot answers them, then shows the draft again. A test keeps both lists equal.
INTERRUPTING_INTENTS = (
    "check_balance", "tier_status", "points_history", "expiring_points", "claim_status",
    "submit_claim", "claim_display", "share_media", "help", "menu", "change_language",
    *FLOW_INTERRUPTING_INTENTS,
)
RECENT_CLAIMS = 5
MAX_PICK_CANDIDATES = 10  # a WhatsApp list has at most 10 rows
ASK_RESPONSES = {
    drafts.FIELD_INVOICE_NO: "utter_claim_ask_invoice_no",
    drafts.FIELD_INVOICE_DATE: "utter_claim_ask_invoice_date",
    drafts.FIELD_LINES: "utter_claim_ask_lines",
    "quantity": "utter_claim_ask_quantity",
    "photo": "utter_claim_ask_photo",
}
# Step-by-step correction: the field picked → the question for its new value.
EDIT_RESPONSES = {
    drafts.FIELD_INVOICE_NO: "utter_claim_edit_invoice_no",
    drafts.FIELD_INVOICE_DATE: "utter_claim_edit_invoice_date",
    drafts.FIELD_LINES: "utter_claim_edit_lines",
}


# ----------------------------------------------------------------------- helpers


def _caption(tracker: Tracker) -> str | None:
    caption = _entity(tracker, "caption")
    if caption:
        return caption
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    media = (metadata.get("whatsapp") or {}).get("media") if isinstance(metadata, dict) else None
    return media.get("caption") if isinstance(media, dict) else None


def _lines_text(draft: dict[str, Any], language: str) -> str:
    if not draft.get("lines"):
        return "• ❓"
    return "\n".join(
        f"• {line['name']} — {line['quantity'] if line.get('quantity') else '❓'}"
        + (f" {line['unit']}" if line.get("unit") else "")
        for line in draft["lines"]
    )


def _date_text(value: str | None, language: str) -> str:
    if not value:
        return "❓"
    try:
        return format_date(date.fromisoformat(value), language)
    except ValueError:
        return value


def render_claim(dispatcher: CollectingDispatcher, claim: dict[str, Any], language: str) -> None:
    """The backend's verdict on a claim, in the partner's language, with each rule line."""
    status, claim_no = claim.get("status"), claim.get("claim_no", "")
    reasons = "".join(
        f"\n• {localised(reason.get('description'), language)}"
        for reason in claim.get("reasons") or []
    )
    if status == "approved":
        rules = "".join(
            f"\n• {localised(rule.get('description'), language)}: "
            f"{format_signed_points(rule.get('points', 0), language)}"
            for rule in claim.get("rules") or []
        )
        dispatcher.utter_message(
            response="utter_claim_approved", claim_no=claim_no,
            points=format_points(claim.get("points", 0), language), rules=rules,
        )
    elif status == "rejected":
        dispatcher.utter_message(response="utter_claim_rejected", claim_no=claim_no,
                                 reasons=reasons)
    else:
        eta = localised(claim.get("review_eta"), language)
        response = (
            "utter_claim_display_pending" if claim.get("kind") == "display"
            else "utter_claim_pending"
        )
        dispatcher.utter_message(response=response, claim_no=claim_no, reasons=reasons,
                                 eta=f"\n⏱️ {eta}" if eta else "")


def render_conflict(dispatcher: CollectingDispatcher, error: BackendConflict,
                    draft: dict[str, Any] | None) -> None:
    if error.code == "duplicate_photo":
        dispatcher.utter_message(response="utter_claim_duplicate_photo",
                                 claim_no=error.claim_no or "-")
    else:
        dispatcher.utter_message(
            response="utter_claim_duplicate_invoice",
            invoice_no=(draft or {}).get("invoice_no") or "-", claim_no=error.claim_no or "-",
        )


def resolve_products(
    client: BackendClient, changes: tuple[drafts.LineChange, ...]
) -> tuple[dict[str, dict[str, Any]], list[tuple[drafts.LineChange, list[dict]]], list[str]]:
    """Each product text → its catalogue product (the backend matches names and synonyms).

    Returns (resolved by text, ambiguous changes with their candidates, unknown texts).
    """
    catalogue = client.list_products()
    resolved: dict[str, dict[str, Any]] = {}
    ambiguous: list[tuple[drafts.LineChange, list[dict]]] = []
    unknown: list[str] = []
    for change in changes:
        if change.product in resolved:
            continue
        match = client.match_products(change.product)
        items = match.get("items") or []
        if not items:
            unknown.append(change.product)
        elif match.get("ambiguous") and len(items) > 1:
            ambiguous.append((change, items[:MAX_PICK_CANDIDATES]))
        else:
            sku = items[0]["sku"]
            resolved[change.product] = {
                "sku": sku,
                "name": catalogue.get(sku, {}).get("name") or items[0].get("name") or sku,
                "unit": catalogue.get(sku, {}).get("unit") or "",
            }
    return resolved, ambiguous, unknown


def apply_lines(
    dispatcher: CollectingDispatcher,
    client: BackendClient,
    draft: dict[str, Any],
    correction: drafts.Correction,
) -> dict[str, Any]:
    """Resolve the correction's products, apply it, and ask to pick when one is ambiguous."""
    resolved, ambiguous, unknown = resolve_products(client, correction.lines)
    updated = drafts.apply_correction(draft, correction, resolved)
    for product in unknown:
        dispatcher.utter_message(response="utter_claim_product_unknown", product=product)
    if ambiguous:
        change, candidates = ambiguous[0]
        updated["pick"] = {
            "kind": correction.kind, "quantity": change.quantity, "query": change.product,
            "candidates": [{"sku": c["sku"], "name": c.get("name") or c["sku"]}
                           for c in candidates],
        }
        dispatcher.utter_message(
            response="utter_claim_pick_product", product=change.product,
            options="\n".join(f"{number}. {c.get('name') or c['sku']}"
                              for number, c in enumerate(candidates, start=1)),
            buttons=[
                {"title": c.get("name") or c["sku"],
                 "payload": f'/inform{{"product": "{c["sku"]}"}}'}
                for c in candidates
            ],
        )
        for other, _ in ambiguous[1:]:
            dispatcher.utter_message(response="utter_claim_product_unknown",
                                     product=other.product)
    return updated


def _apply_pick(client: BackendClient, draft: dict[str, Any], choice: dict) -> dict[str, Any]:
    pick = draft["pick"]
    product = client.list_products().get(choice["sku"], {})
    resolved = {pick["query"]: {"sku": choice["sku"], "name": product.get("name")
                                or choice.get("name") or choice["sku"],
                                "unit": product.get("unit") or ""}}
    correction = drafts.Correction(
        pick["kind"], lines=(drafts.LineChange(pick["query"], pick.get("quantity")),)
    )
    updated = drafts.apply_correction(draft, correction, resolved)
    updated["pick"] = None
    return updated


def _stage_events(tracker: Tracker, done: bool = False) -> list[EventType]:
    """Keep ``review`` while the form runs; otherwise the dialogue waits for nothing."""
    if tracker.active_loop.get("name") == FORM and not done:
        return [SlotSet(STAGE, STAGE_REVIEW)]
    return [SlotSet(STAGE, STAGE_IDLE)]


def submit_display(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str,
    image_id: str,
) -> None:
    body = drafts.display_claim_body(image_id, idempotency_key(tracker))
    try:
        claim = client.submit_claim(tracker.sender_id, body)
    except BackendConflict as error:
        render_conflict(dispatcher, error, None)
        return
    render_claim(dispatcher, claim, language)


# ----------------------------------------------------------------------- actions


class ActionClaimPhoto(PartnerAction):
    """A photo or PDF: read it as an invoice (a draft to review), or claim it as a
    display photo when the caption or the conversation says so."""

    def name(self) -> str:
        return "action_claim_photo"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        in_form = tracker.active_loop.get("name") == FORM
        keep_stage = _stage_events(tracker)
        media_id = _entity(tracker, "media_id")
        if not media_id:
            dispatcher.utter_message(response="utter_claim_photo_failed")
            return keep_stage
        client.get_partner(tracker.sender_id)  # strangers and inactive partners stop here
        display = tracker.get_slot(STAGE) == STAGE_DISPLAY or drafts.is_display_caption(
            _caption(tracker)
        )
        try:
            media = download_media(media_id)
        except MediaUnavailable as error:
            logger.warning("claim.media_unavailable", sender=mask_id(tracker.sender_id),
                           error=str(error)[:200])
            dispatcher.utter_message(response="utter_claim_photo_failed")
            return keep_stage
        if display:
            upload = client.upload_claim_image(tracker.sender_id, media.data, media.mime_type)
            submit_display(dispatcher, tracker, client, language, upload["image_id"])
            return [*keep_stage, SlotSet(PHOTO, None)]
        photo = {"media_id": media_id, "mime_type": media.mime_type, "image_id": None}
        try:
            ocr = client.ocr_invoice(tracker.sender_id, media.data, media.mime_type)
        except BackendRefused as error:
            response = {413: "utter_claim_photo_too_big",
                        415: "utter_claim_photo_unsupported"}.get(error.status,
                                                                  "utter_claim_photo_unreadable")
            dispatcher.utter_message(response=response)
            return [*keep_stage, SlotSet(PHOTO, photo)]
        photo["image_id"] = ocr.get("image_id")
        if not drafts.ocr_read_anything(ocr):
            dispatcher.utter_message(response="utter_claim_photo_not_invoice")
            return [*keep_stage, SlotSet(PHOTO, photo)]
        read = drafts.draft_from_ocr(ocr, client.list_products())
        current = tracker.get_slot(DRAFT)
        if in_form and current and not current.get("image_id"):
            draft = drafts.merge_photo_into(current, read)  # typed first, then the photo
        else:
            draft = read
        logger.info("claim.photo_read", sender=mask_id(tracker.sender_id),
                    invoice=bool(draft["invoice_no"]), lines=len(draft["lines"]),
                    unread=len(draft["unread"]))
        return [SlotSet(DRAFT, draft), SlotSet(STAGE, STAGE_REVIEW), SlotSet(PHOTO, None)]


class ActionStartClaim(PartnerAction):
    """"mau klaim poin" → ask for the photo; a typed claim → a draft to review."""

    def name(self) -> str:
        return "action_start_claim"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        in_form = tracker.active_loop.get("name") == FORM
        text = _text(tracker)
        typed = drafts.parse_typed_claim("" if text.startswith("/") else text)
        current = tracker.get_slot(DRAFT)
        if typed.is_empty:
            if in_form and current:
                return [SlotSet(STAGE, STAGE_REVIEW)]  # the form shows the waiting draft
            dispatcher.utter_message(response="utter_claim_start")
            return [SlotSet(STAGE, STAGE_IDLE)]
        client.get_partner(tracker.sender_id)
        draft = dict(current) if in_form and current else drafts.new_draft()
        for field in (drafts.FIELD_INVOICE_NO, drafts.FIELD_INVOICE_DATE):
            if getattr(typed, field):
                draft[field] = getattr(typed, field)
        if typed.lines:
            draft = apply_lines(
                dispatcher, client, draft,
                drafts.Correction(drafts.SET_QUANTITY, lines=typed.lines),
            )
        return [SlotSet(DRAFT, draft), SlotSet(STAGE, STAGE_REVIEW)]


class ActionAskClaimReview(Action):
    """Show the draft and what it still needs; buttons to confirm, correct or cancel."""

    def name(self) -> str:
        return "action_ask_claim_review"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = normalise_language(tracker.get_slot("language"))
        draft = tracker.get_slot(DRAFT)
        if not draft:
            dispatcher.utter_message(response="utter_claim_start")
            return []
        interrupted = (
            _intent(tracker) in INTERRUPTING_INTENTS and _intent(tracker) != "share_media"
            and bool(draft.get("shown"))
        )
        if not interrupted:
            if draft.get("pick") or draft.get("editing"):
                return []  # the list to pick from / the question was just sent
            if draft.get("retry"):
                dispatcher.utter_message(response="utter_claim_retry")
                return []
        else:
            dispatcher.utter_message(response="utter_claim_draft_waiting")
            draft = {**{k: v for k, v in draft.items() if k != "retry"},
                     "pick": None, "editing": None}
        fields = {
            "invoice_no": draft.get("invoice_no") or "❓",
            "invoice_date": _date_text(draft.get("invoice_date"), language),
            "lines": _lines_text(draft, language),
        }
        missing = drafts.missing_fields(draft)
        if not missing:
            dispatcher.utter_message(response="utter_claim_draft", **fields)
        else:
            dispatcher.utter_message(response="utter_claim_draft_incomplete", **fields)
            if draft.get("unread"):
                dispatcher.utter_message(
                    response="utter_claim_unread",
                    texts="\n".join(f"• {text}" for text in draft["unread"]),
                )
            products = ", ".join(
                line["name"] for line in draft.get("lines") or [] if not line.get("quantity")
            )
            dispatcher.utter_message(response=ASK_RESPONSES[missing[0]], products=products)
        if draft.get("shown") and not interrupted:
            return []
        return [SlotSet(DRAFT, {**draft, "shown": True})]


class ValidateClaimForm(FormValidationAction):
    """Reads every answer while a draft waits: confirm, cancel, a correction in plain
    words, a field picked step by step, or a product picked from a list."""

    def name(self) -> str:
        return "validate_claim_form"

    async def validate_claim_review(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        language = normalise_language(tracker.get_slot("language"))
        sender = mask_id(tracker.sender_id)
        try:
            return await in_worker_thread(
                self.review, dispatcher, tracker, get_client(), language
            )
        except PartnerNotFound:
            dispatcher.utter_message(response="utter_not_registered")
            return {REVIEW: DONE, DRAFT: None}
        except PartnerInactive as error:
            dispatcher.utter_message(response=INACTIVE_RESPONSES[error.status])
            return {REVIEW: DONE, DRAFT: None}
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_backend_error")
            return {REVIEW: None}
        except Exception:  # a bug must not lose the draft or leave the partner unanswered
            logger.exception("action.failed", action=self.name(), sender=sender)
            dispatcher.utter_message(response="utter_backend_error")
            return {REVIEW: None}

    def review(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> dict[str, Any]:
        draft = dict(tracker.get_slot(DRAFT) or {})
        if not draft:
            return {REVIEW: DONE}
        draft.pop("retry", None)
        text, intent = _text(tracker), _intent(tracker)
        is_button = text.startswith("/")  # typed text never starts with "/" (connector)

        if draft.get("pick"):
            answer = _entity(tracker, "product") or ("" if is_button else text)
            choice = drafts.pick_candidate(draft["pick"], answer)
            if choice:
                return {REVIEW: None, DRAFT: _apply_pick(client, draft, choice)}
            draft["pick"] = None  # something else was typed: read it as usual

        if (intent == "deny" and is_button) or (not is_button and drafts.is_cancel_text(text)):
            dispatcher.utter_message(response="utter_claim_cancelled")
            return {REVIEW: DONE, DRAFT: None}

        if intent == "claim_correct" and is_button:
            field = _entity(tracker, "claim_field")
            if field in drafts.FIELDS:
                dispatcher.utter_message(response=EDIT_RESPONSES[field])
                return {REVIEW: None, DRAFT: {**draft, "editing": field}}
            dispatcher.utter_message(response="utter_claim_which_field")
            return {REVIEW: None, DRAFT: {**draft, "editing": None}}

        correction = None if is_button else drafts.parse_correction(text, draft.get("editing"))
        if correction is not None:
            return {REVIEW: None, DRAFT: self.correct(dispatcher, client, draft, correction)}

        if intent == "affirm":
            return self.confirm(dispatcher, tracker, client, language, draft)
        if intent in ("claim_correct", "deny"):
            dispatcher.utter_message(response="utter_claim_which_field")
            return {REVIEW: None, DRAFT: {**draft, "editing": None}}
        dispatcher.utter_message(response="utter_claim_correction_unclear")
        return {REVIEW: None, DRAFT: {**draft, "editing": None}}

    def correct(
        self, dispatcher: CollectingDispatcher, client: BackendClient, draft: dict[str, Any],
        correction: drafts.Correction,
    ) -> dict[str, Any]:
        if correction.kind == drafts.BAD_DATE:
            dispatcher.utter_message(response="utter_claim_bad_date")
            return draft
        if correction.lines:
            return apply_lines(dispatcher, client, draft, correction)
        return drafts.apply_correction(draft, correction)

    def confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str, draft: dict[str, Any],
    ) -> dict[str, Any]:
        if drafts.missing_fields(draft):
            return {REVIEW: None, DRAFT: draft}  # the form asks for what is missing
        # One key per draft: a retry after a timeout replays, it never claims twice.
        key = draft.get("idempotency_key") or idempotency_key(tracker)
        draft = {**draft, "idempotency_key": key}
        try:
            claim = client.submit_claim(tracker.sender_id, drafts.claim_body(draft, key))
        except BackendConflict as error:
            render_conflict(dispatcher, error, draft)
            return {REVIEW: DONE, DRAFT: None}
        except BackendRefused as error:
            logger.warning("claim.refused", sender=mask_id(tracker.sender_id),
                           detail=error.detail[:200])
            dispatcher.utter_message(response="utter_claim_invalid")
            return {REVIEW: None, DRAFT: {**draft, "idempotency_key": None}}
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_backend_error")
            return {REVIEW: None, DRAFT: {**draft, "retry": True}}
        logger.info("claim.submitted", sender=mask_id(tracker.sender_id),
                    claim_no=claim.get("claim_no"), status=claim.get("status"))
        render_claim(dispatcher, claim, language)
        return {REVIEW: DONE, DRAFT: None}


class ActionClaimDone(Action):
    """After the form: forget the draft so the next claim starts clean."""

    def name(self) -> str:
        return "action_claim_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet(REVIEW, None), SlotSet(DRAFT, None), SlotSet(STAGE, STAGE_IDLE)]


class ActionClaimDisplay(PartnerAction):
    """"foto display": claim the photo just sent, or ask for one."""

    def name(self) -> str:
        return "action_claim_display"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        photo = tracker.get_slot(PHOTO) or {}
        in_form = tracker.active_loop.get("name") == FORM
        if not (photo.get("image_id") or photo.get("media_id")):
            dispatcher.utter_message(response="utter_claim_display_ask_photo")
            return [SlotSet(STAGE, STAGE_REVIEW if in_form else STAGE_DISPLAY)]
        client.get_partner(tracker.sender_id)
        image_id = photo.get("image_id")
        if not image_id:
            try:
                media = download_media(photo["media_id"])
            except MediaUnavailable:
                dispatcher.utter_message(response="utter_claim_photo_failed")
                return [*_stage_events(tracker), SlotSet(PHOTO, None)]
            image_id = client.upload_claim_image(
                tracker.sender_id, media.data, media.mime_type
            )["image_id"]
        submit_display(dispatcher, tracker, client, language, image_id)
        return [*_stage_events(tracker), SlotSet(PHOTO, None)]


class ActionClaimStatus(PartnerAction):
    """The partner's latest claims with status and points."""

    def name(self) -> str:
        return "action_claim_status"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        claims = client.list_claims(tracker.sender_id, limit=RECENT_CLAIMS)["items"]
        if not claims:
            dispatcher.utter_message(response="utter_claim_list_empty")
            return []
        dispatcher.utter_message(
            response="utter_claim_list", lines="\n".join(_claim_line(c, language) for c in claims)
        )
        return []


def _claim_line(claim: dict[str, Any], language: str) -> str:
    head = f"• *{claim.get('claim_no', '')}*"
    if claim.get("invoice_no"):
        head += f" · {claim['invoice_no']}"
    else:
        head += f" · {claim_kind_label(claim.get('kind', ''), language)}"
    if claim.get("created_at"):
        head += f" · {format_date(claim['created_at'], language)}"
    status = claim_status_label(claim.get("status", ""), language)
    detail = f"\n   {status}"
    if claim.get("status") == "approved":
        detail += f" · {format_signed_points(claim.get('points', 0), language)}"
    elif claim.get("status") == "pending_review" and claim.get("review_eta"):
        detail += f" · {localised(claim['review_eta'], language)}"
    elif claim.get("status") == "rejected" and claim.get("reasons"):
        detail += f" · {localised(claim['reasons'][0].get('description'), language)}"
    return head + detail
