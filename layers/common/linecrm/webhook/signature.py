"""X-Line-Signature: base64(HMAC-SHA256(channel secret, raw request body))."""

import base64
import hashlib
import hmac


def compute_signature(channel_secret: str, body: bytes) -> str:
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid_signature(channel_secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of a webhook signature over the exact bytes LINE sent."""
    if not signature:
        return False
    expected = compute_signature(channel_secret, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))
