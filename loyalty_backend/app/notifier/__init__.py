"""The notifier (issue 21): drains the notification outbox into Rasa.

``python -m app.notifier`` (started by ``make run``); the loop is in ``loop.py``, the
outbox calls in ``outbox.py``, the rate limits in ``limits.py``.
"""
