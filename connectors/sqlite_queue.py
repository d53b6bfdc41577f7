"""The default inbound queue: an embedded SQLite journal for one Rasa instance.

Each new message of a webhook body is one row (``message_id`` UNIQUE, so a redelivered
id is stored once and recognised as a duplicate, also after a restart), written in one
transaction before the webhook answers 200. A row stays ``pending`` until its turn ran
(``done``) or every attempt failed (``failed``); the attempts counter is written before
each attempt. On start the pending rows are fed to the turn scheduler in ``seq`` order,
which is arrival order, so each sender's messages resume in order.

Durability: the journal runs in WAL mode. With ``synchronous=NORMAL`` (the default) a
commit is a write into the WAL file without fsync: it survives the process dying in any
way (``kill -9``, OOM, a deploy), not a power cut or kernel crash, which may lose the
last commits. ``synchronous=FULL`` fsyncs the WAL on every commit (survives power loss;
each acknowledgement waits for the disk). Either way every journal call runs on one
writer thread of its own, so the server loop never waits on the disk, only on a
thread hand-off, and never behind a Rasa turn.

Done rows keep only the id (the text is erased) and are deleted after the de-duplication
period. A lock file beside the journal stops a second instance from opening it: several
instances share work through Redis (``connectors.redis_queue``) instead.

**Shared with the ingress gateway** (``WHATSAPP_INGRESS=gateway``): the gateway process
opens the same file with ``runs_turns=False`` (its own lock file, so one gateway) and
only stores; Rasa's queue opens it with ``watch_seconds`` set and picks up new rows
every ``watch_seconds`` (WAL lets the two processes read and write side by side; each
write is one short transaction). The caps are then counted from the table, since each
process changes it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import structlog

from connectors.inbound_queue import (
    DEFAULT_LIMITS,
    QUEUE_FULL,
    SENDER_FULL,
    Admission,
    InboundQueue,
    QueueClosedError,
    QueueLimits,
    QueueUnavailableError,
)
from connectors.masking import mask_id
from connectors.message_codec import CodecError, decode_message, encode_message
from connectors.turn_scheduler import (
    DEFAULT_POLICY,
    GiveUp,
    Handler,
    Job,
    TurnPolicy,
    TurnScheduler,
)
from connectors.whatsapp_payloads import InboundMessage

logger = structlog.get_logger(__name__)

T = TypeVar("T")
MEMORY = ":memory:"
SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")
PRUNE_EVERY_SECONDS = 600.0
LOCK_WAIT_SECONDS = 5.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    sender_id TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS inbound_by_state ON inbound (state, seq);
"""
# Counting a sender's pending rows (the per-sender cap) when two processes share the file.
SHARED_SCHEMA = "CREATE INDEX IF NOT EXISTS inbound_by_sender ON inbound (sender_id, state);"
LOCK_SUFFIX, INGRESS_LOCK_SUFFIX = ".lock", ".ingress.lock"


class JournalInUseError(RuntimeError):
    """Another process has this journal open."""


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    sender_id: str
    body: str
    attempts: int


class SqliteJournal:
    """The journal itself. Not thread-safe: every method runs on the queue's writer thread."""

    def __init__(
        self,
        path: str,
        synchronous: str = "NORMAL",
        retention_seconds: float = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
        *,
        shared: bool = False,
        lock_suffix: str = LOCK_SUFFIX,
    ) -> None:
        mode = synchronous.strip().upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = path
        self._synchronous = mode
        self._retention = retention_seconds
        self._clock = clock
        self._db: sqlite3.Connection | None = None
        self._lock_file: IO[bytes] | None = None
        self._last_prune = 0.0
        self.shared = shared
        self._lock_suffix = lock_suffix
        # Pending rows, kept up to date by this process alone when it is the only writer;
        # a shared journal counts them from the table at each admission instead.
        self.pending_total = 0
        self.pending_by_sender: Counter[str] = Counter()

    def lock(self) -> None:
        """Claim the journal for this process (released by close or by the process dying)."""
        if self.path == MEMORY or self._lock_file is not None:
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path + self._lock_suffix, "ab")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise JournalInUseError(
                f"{self.path} is used by another process: give each Rasa instance its own "
                "WHATSAPP_QUEUE_PATH, or share work through WHATSAPP_QUEUE_REDIS_URL"
            ) from exc
        self._lock_file = handle

    def open(self) -> list[StoredMessage]:
        """Open (creating if needed) and return the pending messages in arrival order."""
        self.lock()
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        if self.shared:
            db.executescript(SHARED_SCHEMA)
            # From now on wait for the other process's write lock in short steps of our
            # own (_locked_retry): SQLite's busy handler sleeps 1, 2, 5, 10 … ms.
            db.execute("PRAGMA busy_timeout=0")
        self._db = db
        self.prune()
        rows = db.execute(
            "SELECT seq, sender_id, body, attempts FROM inbound WHERE state = 'pending' "
            "ORDER BY seq"
        ).fetchall()
        self.pending_total = len(rows)
        if not self.shared:
            self.pending_by_sender = Counter(row[1] for row in rows)
        return [StoredMessage(*row) for row in rows]

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise QueueUnavailableError("the journal is not open")
        return self._db

    def admit(self, messages: Sequence[InboundMessage], limits: QueueLimits) -> tuple[
        Admission, list[int]
    ]:
        """Store the new messages of one webhook body in one transaction."""
        admission, seqs = Admission(), []
        added: Counter[str] = Counter()
        now = self._clock()
        db = self.db
        self._locked_retry(lambda: db.execute("BEGIN IMMEDIATE"))
        try:
            if self.shared:  # the other process finishes rows: count what is pending now
                pending_total, pending_by_sender = self._count_pending(
                    db, {m.sender_id for m in messages}
                )
            else:
                pending_total, pending_by_sender = self.pending_total, self.pending_by_sender
            for message in messages:
                sender = message.sender_id
                row = db.execute(
                    "SELECT seq, state FROM inbound WHERE message_id = ?", (message.message_id,)
                ).fetchone()
                if row is not None and row[1] != "failed":
                    admission.duplicates.append(message)
                    continue
                if pending_total + sum(added.values()) >= limits.max_pending:
                    admission.refused.append((message, QUEUE_FULL))
                    continue
                if pending_by_sender[sender] + added[sender] >= limits.max_pending_per_sender:
                    admission.refused.append((message, SENDER_FULL))
                    continue
                if row is not None:  # failed before and redelivered: a fresh try, in order
                    db.execute("DELETE FROM inbound WHERE seq = ?", (row[0],))
                cursor = db.execute(
                    "INSERT INTO inbound (message_id, sender_id, body, state, received_at) "
                    "VALUES (?, ?, ?, 'pending', ?)",
                    (message.message_id, sender, encode_message(message), now),
                )
                seqs.append(int(cursor.lastrowid or 0))
                admission.accepted.append(message)
                added[sender] += 1
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.pending_total = pending_total + sum(added.values())
        if not self.shared:  # shared: counted from the table at each admission instead
            self.pending_by_sender.update(added)
        if now - self._last_prune > PRUNE_EVERY_SECONDS:
            self.prune()
        return admission, seqs

    @staticmethod
    def _count_pending(db: sqlite3.Connection, senders: set[str]) -> tuple[int, Counter[str]]:
        """Pending rows in all and of each of ``senders``, as the table has them now."""
        total = db.execute("SELECT COUNT(*) FROM inbound WHERE state = 'pending'").fetchone()[0]
        by_sender: Counter[str] = Counter()
        for sender in senders:
            by_sender[sender] = db.execute(
                "SELECT COUNT(*) FROM inbound WHERE sender_id = ? AND state = 'pending'",
                (sender,),
            ).fetchone()[0]
        return int(total), by_sender

    def pending_after(self, seq: int, limit: int = 500) -> list[StoredMessage]:
        """Pending rows stored after ``seq`` (by the gateway), in arrival order."""
        rows = self.db.execute(
            "SELECT seq, sender_id, body, attempts FROM inbound "
            "WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [StoredMessage(*row) for row in rows]

    def _locked_retry(self, write: Callable[[], T]) -> T:
        """Run ``write``; while the other process holds the write lock, try again after
        0.1 ms, doubling up to 2 ms (its transactions last well under a millisecond),
        for up to ``LOCK_WAIT_SECONDS``."""
        if not self.shared:
            return write()
        delay, deadline = 0.0001, time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return write()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.002)

    def attempt(self, seq: int) -> int:
        self._locked_retry(lambda: self.db.execute(
            "UPDATE inbound SET attempts = attempts + 1 WHERE seq = ?", (seq,)
        ))
        row = self.db.execute("SELECT attempts FROM inbound WHERE seq = ?", (seq,)).fetchone()
        return int(row[0]) if row else 1

    def finish(self, seq: int, sender_id: str, state: str) -> None:
        """``done`` or ``failed``; the text is erased, the id kept for de-duplication."""
        cursor = self._locked_retry(lambda: self.db.execute(
            "UPDATE inbound SET state = ?, body = '', finished_at = ? "
            "WHERE seq = ? AND state = 'pending'",
            (state, self._clock(), seq),
        ))
        if cursor.rowcount:
            self.pending_total -= 1
            if not self.shared:
                self.pending_by_sender[sender_id] -= 1
                if self.pending_by_sender[sender_id] <= 0:
                    del self.pending_by_sender[sender_id]

    def prune(self) -> int:
        """Forget finished ids older than the de-duplication period."""
        self._last_prune = now = self._clock()
        cursor = self._locked_retry(lambda: self.db.execute(
            "DELETE FROM inbound WHERE state != 'pending' AND finished_at < ?",
            (now - self._retention,),
        ))
        return cursor.rowcount

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None


class SqliteInboundQueue(InboundQueue):
    """``InboundQueue`` over a ``SqliteJournal``; also the scheduler's ``JobStore``.

    ``runs_turns=False``: the ingress gateway's queue (stores, never runs a turn).
    ``watch_seconds``: rows may come from the gateway; look for new ones this often.
    """

    def __init__(
        self,
        handler: Handler,
        give_up: GiveUp,
        *,
        path: str = MEMORY,
        synchronous: str = "NORMAL",
        limits: QueueLimits = DEFAULT_LIMITS,
        policy: TurnPolicy = DEFAULT_POLICY,
        max_concurrency: int = 64,
        retention_seconds: float = 7 * 24 * 3600,
        runs_turns: bool = True,
        watch_seconds: float | None = None,
    ) -> None:
        if path == MEMORY and (watch_seconds or not runs_turns):
            raise ValueError("a journal shared with the gateway needs a file, not :memory:")
        self.runs_turns = runs_turns
        self._watch_seconds = watch_seconds if runs_turns else None
        self._journal = SqliteJournal(
            path, synchronous, retention_seconds,
            shared=bool(watch_seconds) or not runs_turns,
            lock_suffix=LOCK_SUFFIX if runs_turns else INGRESS_LOCK_SUFFIX,
        )
        # Fail at startup, not at the first webhook, when another instance has the file.
        self._journal.lock()
        self._limits = limits
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="whatsapp-journal")
        self._scheduler = TurnScheduler(
            handler, give_up, self, policy=policy, max_concurrency=max_concurrency
        )
        self._started: asyncio.Future[None] | None = None
        self._closed = False
        self._pid = os.getpid()
        self._last_seq = 0  # watching: the newest row handed to the scheduler
        self._wake = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def path(self) -> str:
        return self._journal.path

    @property
    def pending(self) -> int:
        if self._watch_seconds:  # rows the gateway stored since the last look are not known
            return self._scheduler.pending
        return self._journal.pending_total

    @property
    def active_senders(self) -> int:
        return self._scheduler.active_senders

    async def _call(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def start(self) -> None:
        started = self._started
        if started is None or (started.done() and started.exception() is not None):
            self._started = started = asyncio.ensure_future(self._open())  # (again)
        await asyncio.shield(started)

    async def _open(self) -> None:
        if os.getpid() != self._pid:
            raise JournalInUseError(
                "the SQLite journal serves one process, and Rasa forked workers "
                "(SANIC_WORKERS): share work through WHATSAPP_QUEUE_REDIS_URL instead"
            )
        stored = await self._call(self._journal.open)
        if not self.runs_turns:
            logger.info("whatsapp.queue.started", journal=self.path, role="store only")
            return
        resumed = await self._submit(stored)
        if self._watch_seconds and self._watcher is None:
            self._watcher = asyncio.ensure_future(self._watch(self._watch_seconds))
        logger.info("whatsapp.queue.started", journal=self.path, resumed=resumed,
                    watching=self._watch_seconds)

    async def _submit(self, rows: Sequence[StoredMessage]) -> int:
        submitted = 0
        for row in rows:
            self._last_seq = max(self._last_seq, row.seq)
            try:
                message = decode_message(row.body)
            except CodecError as exc:
                logger.error(
                    "whatsapp.queue.unreadable", seq=row.seq, sender=mask_id(row.sender_id),
                    error=str(exc),
                )
                await self._call(self._journal.finish, row.seq, row.sender_id, "failed")
                continue
            self._scheduler.submit(Job(message, row.seq, row.attempts))
            submitted += 1
        return submitted

    async def _watch(self, interval: float) -> None:
        """Hand rows stored by the gateway to the scheduler, in arrival order."""
        while not self._closed:
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if self._closed:
                return
            try:
                await self._submit(await self._call(self._journal.pending_after, self._last_seq))
            except Exception:  # the disk: keep looking, the rows stay stored
                logger.exception("whatsapp.queue.watch_failed", journal=self.path)

    async def put(self, messages: Sequence[InboundMessage]) -> Admission:
        if self._closed:
            raise QueueClosedError("inbound queue is closed")
        try:
            await self.start()
            admission, seqs = await self._call(self._journal.admit, messages, self._limits)
        except Exception as exc:
            raise QueueUnavailableError(f"journal: {type(exc).__name__}: {exc}") from exc
        if not self.runs_turns:
            return admission
        if self._watch_seconds:
            self._wake.set()  # the watcher takes them, with the gateway's, in seq order
            return admission
        for message, seq in zip(admission.accepted, seqs, strict=True):
            self._scheduler.submit(Job(message, seq))
        return admission

    # JobStore --------------------------------------------------------------------

    def may_run(self, job: Job) -> bool:
        return True

    def release(self, job: Job) -> None:
        pass

    async def attempt(self, job: Job) -> int:
        return await self._call(self._journal.attempt, job.ref)

    async def done(self, job: Job) -> None:
        await self._call(self._journal.finish, job.ref, job.message.sender_id, "done")

    async def failed(self, job: Job) -> None:
        await self._call(self._journal.finish, job.ref, job.message.sender_id, "failed")

    async def close(self, timeout: float = 10.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._watcher is not None:
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self._scheduler.close(timeout)
        await self._call(self._journal.close)
        self._executor.shutdown(wait=False)
