"""Auto-login's refusals, in a module of their own: the handlers register them at import
time, which must stay cheap (no models, no crypto)."""

from __future__ import annotations


class LoginRefused(Exception):
    """A login cannot be minted or consumed: this status, reason and field."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field


class NoSigningKey(RuntimeError):
    """The secret holds no key yet (run the rotation once after deploying)."""
