"""What the notifier needs from the outbox (app/services/notifications.py), each call its
own short transaction; called from worker threads (``asyncio.to_thread``). Only plain,
frozen values (``LeasedGroup``) cross back to the event loop.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.logging import mask_wa_id
from app.models import Partner
from app.models.notification import NotificationCategory
from app.services import handoffs, notifications
from app.services.notifications import Defer, LeasedGroup, RecipientView, Suppress

log = logging.getLogger("app.notifier")


@dataclass(frozen=True)
class Lease:
    groups: list[LeasedGroup]  # the groups the rules let go now
    leased: int  # notices leased in all (the batch was full when it equals the limit)


class Outbox(Protocol):
    def lease(
        self,
        *,
        now: datetime,
        limit: int,
        lease_seconds: float,
        marketing_held: Mapping[int, int] | None = None,
    ) -> Lease:
        """Lease up to ``limit`` due notices, grouped, and apply the rules: groups that
        may not go now are deferred or suppressed here and not returned.
        ``marketing_held``: marketing messages per partner the notifier holds or has in
        flight (not yet ``handed``, so not in the database's count for the cap)."""
        ...

    def handed(self, ids: list[int], *, delivery: str | None, now: datetime) -> None: ...

    def retry(
        self,
        ids: list[int],
        *,
        delay_seconds: float,
        error_code: int | None,
        error: str,
        now: datetime,
    ) -> None:
        """Back to ``pending`` after ``delay_seconds``; the lease's try counts."""
        ...

    def put_back(self, ids: list[int], *, not_before: datetime, reason: str) -> None:
        """Back to ``pending`` from ``not_before``; the lease's try does not count."""
        ...

    def payload(self, group: LeasedGroup, delivery: str) -> dict[str, Any]:
        """The ``notice`` entity (``{"ids", "delivery", "items"}``) for ``group``."""
        ...


SessionFactory = Callable[[], Session]


class SqlOutbox:
    """The outbox in the backend's database."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    def lease(
        self,
        *,
        now: datetime,
        limit: int,
        lease_seconds: float,
        marketing_held: Mapping[int, int] | None = None,
    ) -> Lease:
        with self._sessions() as session:
            groups = notifications.lease_due(
                session, now=now, limit=limit, lease_seconds=lease_seconds
            )
            leased = sum(len(group.notices) for group in groups)
            if not groups:
                return Lease([], 0)
            go = self._apply_rules(session, groups, now, dict(marketing_held or {}))
            return Lease(go, leased)

    def _apply_rules(
        self, session: Session, groups: list[LeasedGroup], now: datetime, held: dict[int, int]
    ) -> list[LeasedGroup]:
        partner_ids = {group.partner_id for group in groups}
        partners = {
            p.id: p for p in session.scalars(select(Partner).where(Partner.id.in_(partner_ids)))
        }
        with_agent = handoffs.open_for_partners(session, partner_ids)
        recipients: dict[int, RecipientView] = {}
        marketing: dict[int, tuple[int, datetime | None]] = {}
        go: list[LeasedGroup] = []
        suppressed: dict[str, list[int]] = {}
        deferred: dict[tuple[datetime, str], list[int]] = {}
        for group in groups:
            partner = partners[group.partner_id]
            is_marketing = group.category == NotificationCategory.MARKETING.value
            count, frees_at = 0, None
            if is_marketing:
                if partner.id not in recipients:
                    recipients[partner.id] = notifications.recipient(
                        session, partner, with_agent=partner.id in with_agent
                    )
                    marketing[partner.id] = notifications.marketing_window(session, partner.id, now)
                count, frees_at = marketing[partner.id]
                count += held.get(partner.id, 0)
            view = recipients.get(partner.id) or RecipientView(
                partner.region, partner.status, bool(partner.opted_out),
                partner.id in with_agent,
            )  # fmt: skip
            decision = notifications.decide(
                list(group.notices), view, now, count, cap_frees_at=frees_at
            )
            if isinstance(decision, Suppress):
                suppressed.setdefault(decision.reason, []).extend(group.ids)
            elif isinstance(decision, Defer):
                deferred.setdefault((decision.until, decision.reason), []).extend(group.ids)
            else:
                go.append(group)
                if is_marketing:  # the next marketing group of this batch counts this one
                    held[partner.id] = held.get(partner.id, 0) + 1
        session.rollback()  # end the read; each change below is its own transaction
        for reason, ids in suppressed.items():
            notifications.suppress(session, ids, reason, now=now)
        for (until, reason), ids in deferred.items():
            notifications.defer(session, ids, until, reason)
        if suppressed or deferred:
            log.info(
                "notices held back by the rules",
                extra={
                    "suppressed": {r: len(ids) for r, ids in suppressed.items()},
                    "deferred": sum(len(ids) for ids in deferred.values()),
                },
            )
        return go

    def handed(self, ids: list[int], *, delivery: str | None, now: datetime) -> None:
        with self._sessions() as session:
            notifications.mark_handed(session, ids, delivery=delivery, now=now)

    def retry(
        self,
        ids: list[int],
        *,
        delay_seconds: float,
        error_code: int | None,
        error: str,
        now: datetime,
    ) -> None:
        with self._sessions() as session:
            notifications.release_for_retry(
                session, ids, error, timedelta(seconds=delay_seconds),
                error_code=error_code, now=now,
            )  # fmt: skip

    def put_back(self, ids: list[int], *, not_before: datetime, reason: str) -> None:
        with self._sessions() as session:
            notifications.defer(session, ids, not_before, reason)

    def payload(self, group: LeasedGroup, delivery: str) -> dict[str, Any]:
        return notifications.notice_payload(group, delivery)


def describe(group: LeasedGroup) -> dict[str, Any]:
    """Log fields for a group (the wa_id masked)."""
    return {"ids": group.ids, "wa_id": mask_wa_id(group.wa_id), "partner_id": group.partner_id}
