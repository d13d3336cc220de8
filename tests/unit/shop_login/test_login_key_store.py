"""The key store: cached reads, one forced re-read for an unknown kid (bounded), and
rotation that writes a new version without losing the keys that still verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from linecrm.shop_login.keys import (
    FORCED_REFRESH_SECONDS,
    KEYS_MAX_AGE_SECONDS,
    LoginKeySet,
    LoginKeyStore,
)

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


class FakeProvider:
    """Powertools' SecretsProvider: ``get`` with max_age and force_fetch."""

    def __init__(self, document: str) -> None:
        self.document = document
        self.cached: str | None = None
        self.fetches = 0

    def get(self, name: str, *, max_age: int, force_fetch: bool) -> str:
        assert max_age == KEYS_MAX_AGE_SECONDS
        if self.cached is None or force_fetch:
            self.fetches += 1
            self.cached = self.document
        return self.cached


class FakeSecretsManager:
    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        self.puts: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        return {"SecretString": self.provider.document}

    def put_secret_value(self, SecretId: str, SecretString: str) -> None:
        self.puts.append(SecretString)
        self.provider.document = SecretString


def test_an_unknown_kid_reads_the_secret_once_more_at_most_every_few_seconds() -> None:
    first = LoginKeySet().rotated(NOW)
    provider = FakeProvider(first.document())
    clock = [0.0]
    store = LoginKeyStore(provider, "linecrm/login-keys", monotonic=lambda: clock[0])
    assert store.key(str(first.active_kid)) is not None
    assert provider.fetches == 1

    # Another container rotated: the cached copy lacks the new kid; one re-read finds it.
    second = first.rotated(NOW + timedelta(minutes=1))
    provider.document = second.document()
    assert store.key(str(second.active_kid)) is not None
    assert provider.fetches == 2
    # Forged kids do not turn into a Secrets Manager call each.
    assert store.key("forged-1") is None
    assert store.key("forged-2") is None
    assert provider.fetches == 2
    clock[0] += FORCED_REFRESH_SECONDS
    assert store.key("forged-3") is None
    assert provider.fetches == 3


def test_rotation_reads_past_the_cache_and_writes_a_new_version() -> None:
    first = LoginKeySet().rotated(NOW)
    provider = FakeProvider(first.document())
    client = FakeSecretsManager(provider)
    store = LoginKeyStore(provider, "linecrm/login-keys", client=lambda: client)
    assert store.current().active_kid == first.active_kid
    rotated = store.rotate(NOW + timedelta(minutes=5))
    assert len(client.puts) == 1
    assert store.current().active_kid == rotated.active_kid != first.active_kid
    assert {key.kid for key in rotated.keys} == {first.active_kid, rotated.active_kid}
