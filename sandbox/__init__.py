"""WhatsApp sandbox: a stand-in for Meta's WhatsApp Cloud API (dev and test only).

It plays both sides Meta plays for Mitra: a fake Graph API that the connector sends
to (recorded, inspectable, with injectable faults) and a partner simulator that posts
correctly signed Cloud API webhooks to the bot, plus a small web "phone" at ``/``.
"""

__all__ = ["create_app", "Settings"]


def __getattr__(name: str):  # lazy, so `python -m sandbox --help` stays cheap
    if name == "create_app":
        from sandbox.app import create_app

        return create_app
    if name == "Settings":
        from sandbox.settings import Settings

        return Settings
    raise AttributeError(name)
