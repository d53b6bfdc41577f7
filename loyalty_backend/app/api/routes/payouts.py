"""The payout provider's callbacks (``PAYOUT_CALLBACK_TOKEN``, scope ``payouts:callback``).

Only the fake provider (development and tests) has a callback today; a real provider
gets a route of its own here, verifying whatever its callbacks carry.
"""

from fastapi import APIRouter, HTTPException, status

from app.api.deps import PayoutsCallback, SessionDep
from app.core.config import settings
from app.models.reward import RedemptionStatus
from app.schemas.reward import PayoutCallbackIn, PayoutCallbackOut
from app.services import redemptions

router = APIRouter(prefix="/integrations/payouts", tags=["payouts"])


@router.post(
    "/fake/callback",
    response_model=PayoutCallbackOut,
    responses={
        404: {"description": "unknown payout_ref, or the fake provider is not in use"},
        409: {"description": "the payout was already settled the other way"},
    },
)
def fake_payout_callback(
    body: PayoutCallbackIn, session: SessionDep, caller: PayoutsCallback
) -> PayoutCallbackOut:
    """Settle a pending payout: ``succeeded`` fulfils the redemption, ``failed`` cancels
    it and refunds its points. The same callback again answers 200 and changes nothing."""
    if settings.PAYOUT_PROVIDER != "fake":
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND, detail="the fake payout provider is not in use"
        )
    redemption, changed = redemptions.settle_payout(
        session,
        body.payout_ref,
        body.status,
        reason=body.reason,
        actor=caller.name,
        provider="fake",
    )
    return PayoutCallbackOut(
        redemption_no=redemption.redemption_no or "",
        status=RedemptionStatus(redemption.status),
        changed=changed,
    )
