"""Notices the program sends first (issue 21): the WhatsApp connector's reports
(``WHATSAPP_REPORT_TOKEN``, scope ``notifications:report``) and the admin's view
(``notifications:read``). The rules are in app/services/notifications.py."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import NotificationsReader, NotificationsReporter, SessionDep
from app.models.notification import NotificationStatus
from app.schemas.common import WA_ID_PATTERN
from app.schemas.notification import (
    NotificationListOut,
    NotificationOut,
    SendReportIn,
    SendReportOut,
    StatusesIn,
    StatusesOut,
)
from app.services import notifications

router = APIRouter(tags=["notifications"])


@router.post("/notifications/sends", response_model=SendReportOut)
def report_send(
    body: SendReportIn, session: SessionDep, _caller: NotificationsReporter
) -> SendReportOut:
    """What WhatsApp answered to one notice message: ``ok`` -> sent (with its wamid);
    otherwise retried or failed by the error code (docs/contracts.md). A repeated report
    changes nothing."""
    changed = notifications.record_send(
        session, body.ids, body.ok, body.wamid, body.error_code, body.error,
        delivery=body.delivery, later=body.later,
    )  # fmt: skip
    return SendReportOut(changed=changed)


@router.post("/notifications/statuses", response_model=StatusesOut)
def report_statuses(
    body: StatusesIn, session: SessionDep, _caller: NotificationsReporter
) -> StatusesOut:
    """WhatsApp's status webhooks for notice messages. Unknown wamids are ignored; a
    status never goes backwards (sent < delivered < read)."""
    reports = [
        notifications.StatusReport(
            wamid=item.wamid,
            status=item.status,
            timestamp=datetime.fromtimestamp(item.timestamp, UTC),
            error_code=item.error_code,
        )
        for item in body.statuses
    ]
    return StatusesOut(matched=notifications.record_statuses(session, reports))


@router.get("/admin/notifications", response_model=NotificationListOut, tags=["admin"])
def list_notifications(
    session: SessionDep,
    _caller: NotificationsReader,
    wa_id: Annotated[str | None, Query(max_length=160, pattern=WA_ID_PATTERN)] = None,
    status: NotificationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> NotificationListOut:
    """Notices newest first: what was sent, delivered, read, suppressed or failed, and why
    (``last_error_code``, ``last_error``)."""
    found = notifications.list_for_admin(
        session, wa_id=wa_id, status=status.value if status else None, limit=limit
    )
    return NotificationListOut(items=[NotificationOut.of(n) for n in found])
