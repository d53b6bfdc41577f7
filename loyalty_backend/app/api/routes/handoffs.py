"""Hand-off to a person, the partner's side (service token): support hours, ask for a
person, keep waiting, go back to the bot. The console's side is app/console/api.py."""

from fastapi import APIRouter, Response, status

from app.api.deps import PartnerActor, PartnerReader, SessionDep, WaIdPath
from app.core.clock import utcnow
from app.models import Handoff
from app.schemas.handoff import AvailabilityOut, HandoffCancelledOut, HandoffIn, HandoffOut
from app.services import handoffs, partners, support_hours

router = APIRouter(tags=["handoffs"])

_NONE_OPEN = {404: {"description": "unknown partner, or no open hand-off"}}


def _out(handoff: Handoff) -> HandoffOut:
    now = utcnow()
    available = support_hours.availability(now)
    return HandoffOut(
        handoff_id=handoff.id,
        status=handoff.status,
        open=available.open,
        expected_wait_minutes=available.expected_wait_minutes,
        next_open_label=available.next_open_label,  # type: ignore[arg-type]
    )


@router.get("/support/availability", response_model=AvailabilityOut)
def availability(_caller: PartnerReader) -> AvailabilityOut:
    """Whether agents are on duty now; if not, when they are next (WIB)."""
    found = support_hours.availability(utcnow())
    return AvailabilityOut(
        open=found.open,
        expected_wait_minutes=found.expected_wait_minutes,
        next_open_at=found.next_open_at,
        next_open_label=found.next_open_label,  # type: ignore[arg-type]
    )


@router.post(
    "/partners/by-wa/{wa_id}/handoffs",
    response_model=HandoffOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": HandoffOut, "description": "the partner's open hand-off, or a replay"},
        404: {"description": "unknown partner"},
        409: {"description": "the idempotency key belongs to another partner's hand-off"},
    },
)
def request_handoff(
    wa_id: WaIdPath, body: HandoffIn, response: Response, session: SessionDep, caller: PartnerActor
) -> HandoffOut:
    """Ask for a person: opens a hand-off (waiting) unless one is open already."""
    partner = partners.get_member(session, wa_id)
    result = handoffs.request(
        session,
        partner,
        reason=body.reason,
        idempotency_key=body.idempotency_key,
        last_message=body.last_message,
        actor=caller.name,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _out(result.handoff)


@router.post(
    "/partners/by-wa/{wa_id}/handoffs/current/wait", response_model=HandoffOut, responses=_NONE_OPEN
)
def keep_waiting(wa_id: WaIdPath, session: SessionDep, caller: PartnerActor) -> HandoffOut:
    """The partner keeps waiting after the no-agent notice: the timer starts again."""
    partner = partners.get_member(session, wa_id)
    return _out(handoffs.keep_waiting(session, partner, actor=caller.name))


@router.post(
    "/partners/by-wa/{wa_id}/handoffs/current/cancel",
    response_model=HandoffCancelledOut,
    responses={**_NONE_OPEN, 409: {"description": "an agent has already taken the chat"}},
)
def cancel(wa_id: WaIdPath, session: SessionDep, caller: PartnerActor) -> HandoffCancelledOut:
    """The partner goes back to the bot before an agent took the chat."""
    partner = partners.get_member(session, wa_id)
    handoff = handoffs.cancel(session, partner, actor=caller.name)
    return HandoffCancelledOut(handoff_id=handoff.id, status="cancelled")
