"""Graph API error bodies and the WhatsApp error codes the sandbox can produce."""

from __future__ import annotations

import secrets
import string

from aiohttp import web

ERROR_DOCS = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# code -> (title, details) as Meta documents them
ERROR_CODES: dict[int, tuple[str, str]] = {
    0: ("AuthException", "We were unable to authenticate the app user."),
    1: ("API Unknown", "Invalid request or possible server error."),
    2: ("API Service", "Temporary due to downtime or due to being overloaded."),
    4: ("API Too Many Calls", "The app has reached its API call rate limit."),
    10: ("Permission Denied", "Permission is either not granted or has been removed."),
    100: ("Invalid parameter", "The request included one or more invalid parameters."),
    190: ("Access token has expired", "Your access token has expired."),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    130472: (
        "User's number is part of an experiment",
        "Message was not sent as part of an experiment.",
    ),
    131000: ("Something went wrong", "Message failed to send due to an unknown error."),
    131005: ("Access denied", "Permission is either not granted or has been removed."),
    131008: ("Required parameter is missing", "The request is missing a required parameter."),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid."),
    131016: ("Service unavailable", "A service is temporarily unavailable."),
    131021: ("Recipient cannot be sender", "Sender and recipient phone number is the same."),
    131026: (
        "Message Undeliverable",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a "
        "WhatsApp phone number; the recipient has not accepted the new Terms of Service.",
    ),
    131031: ("Account has been locked", "The WhatsApp Business Account is restricted."),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131048: ("Spam rate limit hit", "Message failed to send because of spam restrictions."),
    131049: (
        "Meta chose not to deliver",
        "This message was not delivered to maintain healthy ecosystem engagement.",
    ),
    131051: ("Unsupported message type", "Unsupported message type."),
    131052: ("Media download error", "Unable to download the media sent by the user."),
    131053: ("Media upload error", "Unable to upload the media used in the message."),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone "
        "number in a short period of time.",
    ),
    132000: (
        "Number of parameters does not match the expected number of params",
        "The number of variable parameter values does not match the template.",
    ),
    132001: ("Template does not exist", "The template does not exist in the specified language."),
    133010: ("Phone number Not Registered", "The phone number is not registered on WhatsApp."),
}

# HTTP status of an injected fault -> Graph error code used when the fault names none
DEFAULT_CODE_FOR_STATUS = {400: 100, 401: 190, 403: 10, 404: 100, 429: 130429, 500: 1}

_TRACE_ALPHABET = string.ascii_letters + string.digits + "_-"


def fbtrace_id() -> str:
    return "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(23))


def default_code(status: int) -> int:
    if status in DEFAULT_CODE_FOR_STATUS:
        return DEFAULT_CODE_FOR_STATUS[status]
    return 2 if status >= 501 else 131000


def title_for(code: int) -> str:
    return ERROR_CODES.get(code, ("Unknown error", ""))[0]


def error_body(
    code: int,
    message: str | None = None,
    details: str | None = None,
    error_type: str = "OAuthException",
    subcode: int | None = None,
) -> dict:
    """A Graph-style error body: ``{"error": {"message", "type", "code", ...}}``."""
    title, default_details = ERROR_CODES.get(code, ("Unknown error", ""))
    error: dict = {
        "message": message or f"(#{code}) {title}",
        "type": error_type,
        "code": code,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if code in (1, 2, 4, 130429, 131000, 131016):
        error["is_transient"] = code != 131000
    details = details if details is not None else default_details
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = fbtrace_id()
    return {"error": error}


def status_error(code: int, details: str | None = None) -> dict:
    """The ``errors[]`` item of a ``failed`` status webhook."""
    title, default_details = ERROR_CODES.get(code, ("Unknown error", ""))
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or default_details},
        "href": ERROR_DOCS,
    }


def graph_error(status: int, code: int, message: str | None = None, **kw) -> web.Response:
    return web.json_response(error_body(code, message, **kw), status=status)


def invalid_token() -> web.Response:
    return graph_error(
        401,
        190,
        "Invalid OAuth access token - Cannot parse access token",
        details="",
    )


class PayloadError(Exception):
    """A request Meta would refuse with HTTP 400 and a Graph error."""

    def __init__(self, code: int, details: str, message: str | None = None):
        super().__init__(details)
        self.code = code
        self.details = details
        self.message = message

    def response(self) -> web.Response:
        return graph_error(400, self.code, self.message, details=self.details)
