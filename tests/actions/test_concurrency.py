"""One partner waiting on a slow backend call must not hold up the others: the action
server runs backend calls off its event loop."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.actions.conftest import ANDI, BUDI, RINA, SARAH, action_call
from tests.actions.fake_backend import Answer, Seen, balance_body, fake_backend
from tests.support.processes import ACTION_SERVER_TOKEN, Process, start_action_server

SLOW_PARTNERS = (BUDI, ANDI, RINA)
FAST_PARTNER = SARAH
AUTH = {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}"}


def _check_balance(process: Process, sender: str, timeout: float) -> requests.Response:
    return requests.post(
        f"{process.url}/webhook", json=action_call(sender), headers=AUTH, timeout=timeout
    )


def test_a_slow_backend_call_does_not_hold_up_another_partner(tmp_path):
    arrived = {sender: threading.Event() for sender in SLOW_PARTNERS}
    release = threading.Event()

    def respond(seen: Seen) -> Answer:
        for sender, event in arrived.items():
            if sender in seen.path:
                event.set()
                release.wait(60)  # the slow backend: answers only once released
                return 200, balance_body(1)
        return 200, balance_body(2)

    finished: list[tuple[str, requests.Response]] = []

    def call_slow(sender: str) -> None:
        finished.append((sender, _check_balance(process, sender, timeout=90)))

    with fake_backend(respond) as backend:
        process = start_action_server(
            tmp_path, backend.url, extra_env={"BACKEND_READ_TIMEOUT": "90"}
        )
        slow_calls = [threading.Thread(target=call_slow, args=(s,)) for s in SLOW_PARTNERS]
        try:
            for thread in slow_calls:
                thread.start()
            for sender, event in arrived.items():
                assert event.wait(30), f"{sender}'s call is stuck behind another slow call"
            # Every slow call is in flight; a fourth partner must still get an answer.
            try:
                fast = _check_balance(process, FAST_PARTNER, timeout=20)
            except requests.Timeout:
                pytest.fail("the fast partner waited for the slow backend calls")
            finished.append((FAST_PARTNER, fast))
            assert not any(sender in SLOW_PARTNERS for sender, _ in finished)
        finally:
            release.set()
            for thread in slow_calls:
                thread.join(60)
            process.stop()

    assert [sender for sender, _ in finished][0] == FAST_PARTNER
    assert {sender for sender, _ in finished} == {FAST_PARTNER, *SLOW_PARTNERS}
    for sender, response in finished:
        assert response.status_code == 200, response.text
        [message] = response.json()["responses"]
        assert message["response"] == "utter_balance"
        assert message["points"] == ("2" if sender == FAST_PARTNER else "1")
