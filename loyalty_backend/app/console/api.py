"""The support console's JSON API, under ``/console/api`` (issue 20).

Who may call it: a signed-in console user (agent or admin), through the session cookie
``mitra_console`` (HttpOnly, SameSite=Strict, Secure in production). Bearer tokens mean
nothing here: the API callers (service, ERP, admin automation, payouts) get 401 like
anyone without a session. Every state-changing request (POST, PUT, PATCH, DELETE) must
also carry the session's CSRF token in ``X-CSRF-Token`` (403 otherwise). Both checks are
ONE dependency of the whole router (``console_caller``), so a new route cannot forget
them; only ``POST /console/api/login`` is outside it.

Partner data shown here is the minimum an agent needs; every console action (sign-in,
sign-out, opening a chat, claim, reply, hand-back) is in the audit log with the actor
``console:<user id>``. Calls to Rasa that fail answer 503 (502 if Rasa answered with an
error) ``{"detail": "the chat service is unavailable; try again"}`` and change nothing.
"""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ParamSpec, TypeVar

import anyio.from_thread
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import SessionDep
from app.core.clock import utcnow
from app.core.config import settings
from app.models import ConsoleSession, ConsoleUser, Handoff, Partner, PointsAccount
from app.models.console_user import ConsoleRole
from app.schemas.handoff import (
    AgentRef,
    CannedRepliesOut,
    CannedReplyOut,
    ConsoleUserOut,
    HandBackOut,
    HandoffDetailOut,
    LoginIn,
    LoginOut,
    MessageIn,
    MessageOut,
    PartnerSummary,
    QueueItem,
    QueueOut,
    TranscriptMessage,
    TranscriptOut,
)
from app.services import claims, console_auth, handoffs, redemptions, support_hours, tiers
from app.services import transcript as transcripts
from app.services.errors import TiersNotConfigured
from app.services.rasa_client import RasaClient, RasaUnavailable, get_rasa_client

COOKIE_NAME = "mitra_console"
COOKIE_PATH = "/console"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HANDBACK_INTENT = "EXTERNAL_handback"

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class ConsoleCaller:
    user: ConsoleUser
    session: ConsoleSession


def signed_in(session: Session, request: Request) -> ConsoleSession | None:
    """The live console session of this request's cookie, or None (pages use it too)."""
    row = console_auth.session_for_token(session, request.cookies.get(COOKIE_NAME))
    if row is None or row.user.role not in {role.value for role in ConsoleRole}:
        return None
    return row


def console_caller(
    request: Request,
    session: SessionDep,
    x_csrf_token: Annotated[str | None, Header(alias=CSRF_HEADER)] = None,
) -> ConsoleCaller:
    """401 without a live session; 403 for a state-changing request without its CSRF token."""
    row = signed_in(session, request)
    if row is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in to the support console")
    if request.method not in SAFE_METHODS and not console_auth.csrf_ok(row, x_csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or invalid CSRF token")
    return ConsoleCaller(row.user, row)


Caller = Annotated[ConsoleCaller, Depends(console_caller)]
Rasa = Annotated[RasaClient, Depends(get_rasa_client)]

public = APIRouter(prefix="/console/api", tags=["console"])
router = APIRouter(prefix="/console/api", tags=["console"], dependencies=[Depends(console_caller)])


def _await(call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an async Rasa call from a sync route (which runs in a worker thread)."""
    return anyio.from_thread.run(functools.partial(call, *args, **kwargs))


def _user_out(user: ConsoleUser) -> ConsoleUserOut:
    return ConsoleUserOut(id=user.id, email=user.email, name=user.name, role=user.role)


# --- sign-in --------------------------------------------------------------------------


@public.post(
    "/login",
    response_model=LoginOut,
    responses={401: {"description": "wrong email or password"}, 423: {"description": "locked"}},
)
def login(body: LoginIn, response: Response, session: SessionDep) -> LoginOut:
    """Sign in; sets the session cookie and gives the CSRF token for later requests."""
    signed = console_auth.login(session, body.email, body.password)
    response.set_cookie(
        COOKIE_NAME,
        signed.token,
        max_age=int(console_auth.SESSION_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.console_cookie_secure,
    )
    return LoginOut(user=_user_out(signed.user), csrf_token=signed.session.csrf_token)


@router.post("/logout")
def logout(caller: Caller, response: Response, session: SessionDep) -> dict[str, bool]:
    console_auth.logout(session, caller.session)
    response.delete_cookie(
        COOKIE_NAME,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.console_cookie_secure,
    )
    return {"signed_out": True}


@router.get("/me", response_model=LoginOut)
def me(caller: Caller) -> LoginOut:
    return LoginOut(user=_user_out(caller.user), csrf_token=caller.session.csrf_token)


# --- the queue and one chat -----------------------------------------------------------------


def _tier(session: Session, partner_id: int, now: datetime) -> str | None:
    try:
        return tiers.current_tier(session, partner_id, now).code
    except TiersNotConfigured:
        return None


def _item(
    session: Session, handoff: Handoff, partner: Partner, agent: ConsoleUser | None, now: datetime
) -> QueueItem:
    return QueueItem(
        id=handoff.id,
        wa_id=handoff.wa_id,
        partner_name=partner.name,
        shop_name=partner.shop_name,
        tier=_tier(session, partner.id, now),
        language=partner.language,
        reason=handoff.reason,
        status=handoff.status,
        requested_at=handoff.requested_at,
        last_message=handoff.last_message,
        claimed_by=AgentRef(id=agent.id, name=agent.name) if agent else None,
    )


def _item_for(session: Session, handoff: Handoff, now: datetime) -> QueueItem:
    partner = session.get(Partner, handoff.partner_id)
    assert partner is not None  # a foreign key
    agent = session.get(ConsoleUser, handoff.claimed_by) if handoff.claimed_by else None
    return _item(session, handoff, partner, agent, now)


@router.get("/handoffs", response_model=QueueOut)
def queue(_caller: Caller, session: SessionDep) -> QueueOut:
    """Open hand-offs (waiting and active), oldest request first."""
    now = utcnow()
    return QueueOut(items=[_item(session, *row, now) for row in handoffs.open_queue(session)])


@router.get("/handoffs/{handoff_id}", response_model=HandoffDetailOut)
def detail(handoff_id: int, caller: Caller, session: SessionDep, rasa: Rasa) -> HandoffDetailOut:
    """The chat's partner, their recent claims and redemptions, and whether WhatsApp's
    24-hour window is open (the partner wrote within 24 hours)."""
    now = utcnow()
    handoff = handoffs.get(session, handoff_id)
    partner = session.get(Partner, handoff.partner_id)
    assert partner is not None
    item = _item_for(session, handoff, now)
    balance = session.scalar(
        select(PointsAccount.balance).where(PointsAccount.partner_id == partner.id)
    )
    last_seen = _last_partner_message(rasa, handoff)
    recent_claims = [
        {
            "claim_no": c.claim_no,
            "status": c.status,
            "invoice_no": c.invoice_no,
            "points": c.points,
            "created_at": c.created_at.isoformat(),
        }
        for c in claims.list_claims(session, partner.id, limit=5)
    ]
    recent_redemptions = [
        {
            "redemption_no": r.redemption_no,
            "reward": r.reward.name_en,
            "status": r.status,
            "points_spent": r.points_spent,
            "created_at": r.created_at.isoformat(),
        }
        for r in redemptions.list_for_partner(session, partner.id, limit=5)
    ]
    handoffs.audit_view(session, handoff, caller.user, now=now)
    return HandoffDetailOut(
        **item.model_dump(),
        partner=PartnerSummary(
            name=partner.name,
            shop=partner.shop_name,
            tier=item.tier,
            language=partner.language,
            balance=int(balance or 0),
            region=partner.region,
            role=partner.role,
        ),
        recent_claims=recent_claims,
        recent_redemptions=recent_redemptions,
        window_open=transcripts.within_window(last_seen, now),
        last_partner_message_at=last_seen,
    )


def _last_partner_message(rasa: RasaClient, handoff: Handoff) -> datetime:
    """The partner's last message: from the tracker, and at least the request itself (the
    partner asked for a person by writing). Rasa down: the request alone."""
    try:
        events = _await(rasa.get_tracker, handoff.wa_id).get("events") or []
    except RasaUnavailable:
        return handoff.requested_at
    seen = transcripts.last_partner_message_at(events)
    return max(seen, handoff.requested_at) if seen else handoff.requested_at


@router.get("/handoffs/{handoff_id}/transcript", response_model=TranscriptOut)
def transcript(handoff_id: int, _caller: Caller, session: SessionDep, rasa: Rasa) -> TranscriptOut:
    """The conversation with the bot, the partner and agents, oldest first."""
    handoff = handoffs.get(session, handoff_id)
    events = _await(rasa.get_tracker, handoff.wa_id).get("events") or []
    return TranscriptOut(
        messages=[TranscriptMessage.model_validate(m) for m in transcripts.messages(events)]
    )


# --- actions --------------------------------------------------------------------------------


@router.post(
    "/handoffs/{handoff_id}/claim",
    response_model=QueueItem,
    responses={409: {"description": "claimed by another agent, or over"}},
)
def claim(handoff_id: int, caller: Caller, session: SessionDep, rasa: Rasa) -> QueueItem:
    """Take the chat: the bot is paused for this partner until the hand-back."""

    def pause(handoff: Handoff) -> None:
        _await(rasa.post_events, handoff.wa_id, {"event": "pause"})

    handoff = handoffs.claim(session, handoff_id, caller.user, notify=pause)
    return _item_for(session, handoff, utcnow())


@router.post(
    "/handoffs/{handoff_id}/messages",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "not claimed by the caller (admins may answer any active chat)"},
        422: {"description": "blank, or longer than 4,096 characters"},
    },
)
def send_message(
    handoff_id: int, body: MessageIn, caller: Caller, session: SessionDep, rasa: Rasa
) -> MessageOut:
    """Send the partner a message as the agent (through Rasa, to WhatsApp)."""
    handoff = handoffs.get(session, handoff_id)
    handoffs.ensure_may_write(handoff, caller.user)
    text = handoffs.check_message(body.text)
    now = utcnow()
    agent = {"id": caller.user.id, "name": caller.user.name}
    event = {"event": "bot", "text": text, "metadata": {"agent": agent}}
    _await(rasa.post_events, handoff.wa_id, event)
    handoffs.record_reply(session, handoff, caller.user, text, now=now)
    message: dict[str, Any] = {
        "from": "agent",
        "text": text,
        "buttons": [],
        "media": None,
        "agent_name": caller.user.name,
        "timestamp": now.isoformat(),
    }
    return MessageOut(message=TranscriptMessage.model_validate(message))


@router.post(
    "/handoffs/{handoff_id}/hand-back",
    response_model=HandBackOut,
    responses={409: {"description": "not claimed by the caller, or not active"}},
)
def hand_back(handoff_id: int, caller: Caller, session: SessionDep, rasa: Rasa) -> HandBackOut:
    """Give the chat back to the bot, which speaks first (EXTERNAL_handback)."""

    def resume(handoff: Handoff) -> None:
        _await(rasa.resume_and_trigger, handoff.wa_id, HANDBACK_INTENT)

    handoffs.hand_back(session, handoff_id, caller.user, notify=resume)
    return HandBackOut(status="closed")


@router.get("/canned-replies", response_model=CannedRepliesOut)
def canned_replies(_caller: Caller) -> CannedRepliesOut:
    return CannedRepliesOut(
        items=[
            CannedReplyOut(key=r.key, title=r.title, text={"id": r.text.id, "en": r.text.en})
            for r in support_hours.canned_replies()
        ]
    )
