"""Verification of Meta's webhook signature (``X-Hub-Signature-256``)."""

from __future__ import annotations

import enum
import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


class SignatureCheck(enum.Enum):
    VALID = "valid"
    MISSING = "missing"  # → 401
    INVALID = "invalid"  # → 403 (wrong digest, wrong prefix, altered body)


def sign(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(app_secret: str, body: bytes, header: str | None) -> SignatureCheck:
    """Check the signature over the raw body, in constant time."""
    if header is None or not header.strip():
        return SignatureCheck.MISSING
    if not app_secret:
        return SignatureCheck.INVALID
    expected = sign(app_secret, body).encode("ascii")
    received = header.strip().encode("utf-8", errors="replace")
    # The prefix is part of the compared value, so "sha1=..." fails like a bad digest.
    if hmac.compare_digest(expected, received):
        return SignatureCheck.VALID
    return SignatureCheck.INVALID
