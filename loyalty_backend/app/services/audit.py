"""The audit trail: who did what to which entity, appended in the caller's transaction."""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.models import AuditLog


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditLog:
    """Add an audit row to the current transaction (it commits or rolls back with it)."""
    row = AuditLog(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        details=details or {},
        created_at=now or utcnow(),
    )
    session.add(row)
    return row
