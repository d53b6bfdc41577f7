"""Delivery statuses of outbound messages: counted, the latest failures kept, and
forwarded to the backend, which keeps them for the program's notices
(``connectors/notice_reporter.py``).

Statuses (sent/delivered/read/failed) never produce a bot turn. Send failures seen
by the Graph client are recorded here too, so support has one place to look
("why did Budi not get his message?").
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from connectors.graph_client import SendResult
from connectors.masking import mask_id
from connectors.notice_reporter import NoticeReporter, default_notice_reporter
from connectors.whatsapp_payloads import ErrorDetail, StatusUpdate

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FailureRecord:
    source: str  # "status" (a failed status webhook) or "send" (the Graph API refused)
    recipient_id: str | None
    message_id: str | None
    timestamp: int
    errors: tuple[ErrorDetail, ...]


class StatusRecorder:
    """In-process counters by status plus the last ``max_failures`` failures."""

    def __init__(
        self, max_failures: int = 100, reporter: NoticeReporter | None = default_notice_reporter
    ) -> None:
        self.counts: Counter[str] = Counter()
        self.failures: deque[FailureRecord] = deque(maxlen=max_failures)
        self.reporter = reporter  # forwards statuses to the backend (the program's notices)

    def record(self, status: StatusUpdate) -> None:
        self.counts[status.status] += 1
        if self.reporter is not None:
            self.reporter.record_status(status)
        if status.status == "failed":
            self.failures.append(
                FailureRecord(
                    source="status",
                    recipient_id=status.recipient_id,
                    message_id=status.message_id,
                    timestamp=status.timestamp or int(time.time()),
                    errors=status.errors,
                )
            )
            logger.warning(
                "whatsapp.status.failed",
                recipient=mask_id(status.recipient_id),
                wamid=status.message_id,
                errors=[f"{e.code}: {e.title}" for e in status.errors],
            )
        else:
            logger.debug(
                "whatsapp.status",
                status=status.status,
                recipient=mask_id(status.recipient_id),
                wamid=status.message_id,
            )

    def record_send_failure(self, recipient_id: str, result: SendResult) -> None:
        self.counts["send_failed"] += 1
        self.failures.append(
            FailureRecord(
                source="send",
                recipient_id=recipient_id,
                message_id=None,
                timestamp=int(time.time()),
                errors=(ErrorDetail(code=result.error_code, title=result.reason),),
            )
        )

    def failures_for(self, recipient_id: str) -> list[FailureRecord]:
        return [f for f in self.failures if f.recipient_id == recipient_id]

    def snapshot(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "recent_failures": [asdict(f) for f in self.failures],
        }


# Shared by the channel instances of this process unless one is passed in.
default_status_recorder = StatusRecorder()
