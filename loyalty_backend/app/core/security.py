"""Service-to-service authentication (the action server holds SERVICE_TOKEN)."""

import hmac


def service_token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison; an empty expected token never matches."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
