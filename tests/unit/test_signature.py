import base64
import hashlib
import hmac

from linecrm.webhook.signature import compute_signature, is_valid_signature

SECRET = "0123456789abcdef0123456789abcdef"


def reference_signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def test_signature_matches_lines_definition() -> None:
    body = b'{"destination":"U1","events":[]}'
    assert compute_signature(SECRET, body) == reference_signature(body)


def test_valid_signature_over_raw_bytes_including_non_ascii() -> None:
    body = '{"events":[{"message":{"text":"こんにちは"}}]}'.encode()
    assert is_valid_signature(SECRET, body, reference_signature(body))


def test_signature_of_other_bytes_is_rejected() -> None:
    body = b'{"events":[]}'
    assert not is_valid_signature(SECRET, body + b" ", reference_signature(body))


def test_missing_or_garbage_signature_is_rejected() -> None:
    body = b"{}"
    assert not is_valid_signature(SECRET, body, None)
    assert not is_valid_signature(SECRET, body, "")
    assert not is_valid_signature(SECRET, body, "not base64 at all ✗")


def test_signature_with_other_secret_is_rejected() -> None:
    body = b"{}"
    other = base64.b64encode(hmac.new(b"other", body, hashlib.sha256).digest()).decode()
    assert not is_valid_signature(SECRET, body, other)
