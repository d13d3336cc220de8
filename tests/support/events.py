"""Real event JSON files in ``tests/events/`` and a ``load_event()`` to read them.

``tests/events/webhook/<name>.json`` holds one LINE webhook event object each (not the
request body around it), one per event type and sub-type of LINE's webhook.yml; the
spec-sample tests validate every file against that document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
WEBHOOK_DIR = EVENTS_DIR / "webhook"


def load_event(name: str, kind: str = "webhook") -> dict[str, Any]:
    """A fresh copy of ``tests/events/<kind>/<name>.json`` (callers may mutate it)."""
    path = EVENTS_DIR / kind / f"{name.removesuffix('.json')}.json"
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event


def webhook_sample_names() -> list[str]:
    return sorted(path.stem for path in WEBHOOK_DIR.glob("*.json"))


def all_webhook_samples() -> list[tuple[str, dict[str, Any]]]:
    """Every webhook event sample as ``(name, event)``, sorted by name."""
    return [(name, load_event(name)) for name in webhook_sample_names()]
