"""What can go wrong when calling LINE, in terms the sender can act on."""

from __future__ import annotations


class LineApiError(Exception):
    """Base of every error the LINE client wrapper raises."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class LineTransientError(LineApiError):
    """5xx, timeouts, connection errors: retry later with the same retry key."""


class LineRateLimited(LineApiError):
    """429 rate limit: slow down and retry."""


class LineQuotaExceeded(LineApiError):
    """429 because the channel's monthly message quota is used up: stop marketing sends."""


class LineRequestRejected(LineApiError):
    """4xx other than 409/429: the request itself is wrong; retrying cannot help."""


class LineAuthFailed(LineRequestRejected):
    """401: LINE refused the channel access token (revoked, expired or rotated).

    The client has already read the token again and retried once. The request itself
    may be fine, so the sender retries it later rather than declaring it dead: the
    new token may not be in Secrets Manager yet.
    """
