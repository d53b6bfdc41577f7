"""The action server's token check, as a pure function (the process is in test_server)."""

from __future__ import annotations

import pytest

from actions.auth import bearer_token, is_authorised

TOKEN = "s3cret-token"


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (f"Bearer {TOKEN}", TOKEN),
        (f"bearer {TOKEN}", TOKEN),
        (f"  Bearer   {TOKEN}  ", TOKEN),
        ("Bearer", None),
        ("Bearer ", None),
        (TOKEN, None),
        (f"Basic {TOKEN}", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer tökén"]
)
def test_only_the_exact_token_is_authorised(header):
    assert not is_authorised(header, TOKEN)


def test_the_exact_token_is_authorised():
    assert is_authorised(f"Bearer {TOKEN}", TOKEN)
