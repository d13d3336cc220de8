"""An emulated LINE platform for the local stack and the tests.

A real HTTP server that serves the Messaging API subset linecrm calls (validated
against LINE's OpenAPI documents in ``specs/``), LINE Login's ID-token endpoints and
its web flow (authorize, consent with the add-friend prompt, token; ``oauth.py``), and
a control API under ``/_emulator/``; it sends signed webhooks for simulated friends.
"""

from .config import EmulatedChannel, EmulatorConfig, default_rate_limits
from .faults import InvalidFault
from .models import ApiCall, ReceivedMessage, SimulatedFriend, WebhookAttempt, WebhookDelivery
from .server import FriendBlocked, LineEmulator, UnknownChannel, UnknownFriend
from .webhooks import sign

__all__ = [
    "ApiCall",
    "EmulatedChannel",
    "EmulatorConfig",
    "FriendBlocked",
    "InvalidFault",
    "LineEmulator",
    "ReceivedMessage",
    "SimulatedFriend",
    "UnknownChannel",
    "UnknownFriend",
    "WebhookAttempt",
    "WebhookDelivery",
    "default_rate_limits",
    "sign",
]
