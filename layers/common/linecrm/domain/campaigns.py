"""What a delivery is part of, for the reports: its campaign key.

Every send request names its campaign, so sent, clicks, conversions and blocks are
counted against the thing a marketer created, not against a ledger chunk:

- ``broadcast:<broadcast id>``
- ``step:<scenario id>:<step id>`` (a scenario step, whatever version sent it)
- ``rule:<rule id>`` (an auto-response or trigger rule's message)
- ``welcome`` (the greeting on a follow)
- ``chat`` (staff answering one friend)
- ``richmenu:<menu id>`` (taps on a rich menu's links: no ``sent``, so no rates)

A campaign with an A/B test also names the variant (``A``, ``B``, ...) per request.
"""

from __future__ import annotations

import re
from typing import Final

_ID = r"[A-Za-z0-9_.-]+"
CAMPAIGN_PATTERN: Final = (
    rf"^(broadcast:{_ID}|step:{_ID}:{_ID}|rule:{_ID}|richmenu:{_ID}|welcome|chat)$"
)
CAMPAIGN_KINDS: Final = ("broadcast", "step", "rule", "richmenu", "welcome", "chat")
RICHMENU_KIND: Final = "richmenu"  # sends no message: no aggregation unit, no ``sent``
VARIANT_PATTERN: Final = r"^[A-Za-z0-9_-]{1,32}$"
_CAMPAIGN = re.compile(CAMPAIGN_PATTERN)


def broadcast_campaign(broadcast_id: str) -> str:
    return f"broadcast:{broadcast_id}"


def step_campaign(scenario_id: str, step_id: str) -> str:
    return f"step:{scenario_id}:{step_id}"


def rule_campaign(rule_id: str) -> str:
    return f"rule:{rule_id}"


def richmenu_campaign(menu_id: str) -> str:
    """A rich menu's links (the menu's id in the menus file, also its LINE alias)."""
    return f"richmenu:{menu_id}"


WELCOME_CAMPAIGN: Final = "welcome"
CHAT_CAMPAIGN: Final = "chat"


def is_campaign(value: str) -> bool:
    return _CAMPAIGN.fullmatch(value) is not None
