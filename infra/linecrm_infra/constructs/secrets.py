"""Secrets Manager secrets per LINE channel: its secret and access token
(``ChannelSecrets``), and the events API's sources with their keys (``EventSourceSecrets``);
the auto-login signing keys (``LoginKeySecret``) and the web tag's visitor id key
(``VisitorKeySecret``)."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from linecrm import resources
from linecrm_infra import constants

# LINE channel ids are digits; `demo` and similar names are allowed for trials.
_CHANNEL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_channel_ids(raw: str) -> tuple[str, ...]:
    """``"123, 456"`` -> ``("123", "456")``; rejects empty lists and odd characters."""
    channel_ids = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not channel_ids:
        raise ValueError("channelIds must name at least one LINE channel id")
    invalid = [channel_id for channel_id in channel_ids if not _CHANNEL_ID.match(channel_id)]
    if invalid:
        raise ValueError(f"invalid channel ids: {invalid}")
    return channel_ids


class ChannelSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, channel_ids: tuple[str, ...]) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {
            channel_id: self._secret(channel_id) for channel_id in channel_ids
        }

    def _secret(self, channel_id: str) -> secretsmanager.Secret:
        template_field = constants.CHANNEL_CREDENTIALS_TEMPLATE_FIELD
        secret = secretsmanager.Secret(
            self,
            f"Channel-{channel_id}",
            secret_name=f"{resources.CHANNEL_SECRET_PREFIX}{channel_id}",
            description=f"LINE channel {channel_id}: channel secret and access token",
            # A placeholder of the right shape; the operator puts the real values after
            # deploy (docs/deploy.md). Random so nobody can sign webhooks meanwhile.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(
                    {template_field: constants.CHANNEL_CREDENTIALS_PLACEHOLDER}
                ),
                generate_string_key=constants.CHANNEL_CREDENTIALS_GENERATED_FIELD,
                exclude_punctuation=True,
                password_length=32,
            ),
        )
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "LINE issues the channel secret and access token; they are rotated in "
                    "the LINE Developers console and put here, no rotation Lambda can do it"
                ),
            )
        )
        return secret

    @property
    def secret_arns(self) -> list[str]:
        return [secret.secret_arn for secret in self.secrets.values()]


class EventSourceSecrets(Construct):
    """``linecrm/events/<channel id>``: the sources that may send events, with keys."""

    def __init__(self, scope: Construct, construct_id: str, channel_ids: tuple[str, ...]) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {
            channel_id: self._secret(channel_id) for channel_id in channel_ids
        }

    def _secret(self, channel_id: str) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            f"EventSources-{channel_id}",
            secret_name=f"{resources.EVENT_SOURCES_SECRET_PREFIX}{channel_id}",
            description=f"LINE channel {channel_id}: events API sources and their keys",
            # No source until the operator adds one (docs/events.md): nobody can send
            # events meanwhile. The generated field is ignored by the reader.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"sources": {}}),
                generate_string_key="unused",
                exclude_punctuation=True,
                password_length=32,
            ),
        )
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "the shop's systems hold these keys too; they are rotated by hand with "
                    "a current and a previous key (docs/events.md), no Lambda can change "
                    "the sender's copy"
                ),
            )
        )
        return secret


class LoginKeySecret(Construct):
    """``linecrm/login-keys``: the ES256 keys that sign auto-login URLs (one set for
    every channel). Created without a key: the first rotation (``POST
    /admin/login-keys/rotate``, ``linecrm shoplogin rotate-keys``) adds one."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "LoginKeys",
            secret_name=resources.LOGIN_KEYS_SECRET_NAME,
            description="ES256 keys that sign linecrm's auto-login URLs (docs/auto-login.md)",
            # No key yet; the generated field is ignored by the reader.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"active_kid": None, "keys": []}),
                generate_string_key="unused",
                exclude_punctuation=True,
                password_length=32,
            ),
        )
        Validations.of(self.secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "rotated by the admin API (POST /admin/login-keys/rotate), which keeps "
                    "the retired keys in the JWKS until the URLs they signed expired; a "
                    "Secrets Manager rotation Lambda would drop them"
                ),
            )
        )

    def grant(self, function: Any, level: str) -> None:
        """``read``: GetSecretValue; ``rotate``: also PutSecretValue (a new version)."""
        self.secret.grant_read(function)
        if level == "rotate":
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["secretsmanager:PutSecretValue"],
                    resources=[self.secret.secret_arn],
                )
            )


class VisitorKeySecret(Construct):
    """``linecrm/visitor-id-key``: the key that signs (and encrypts) the web tag's
    visitor ids (docs/web-tag.md), generated here: ``{"current": "<64 characters>"}``."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "VisitorKey",
            secret_name=resources.VISITOR_KEY_SECRET_NAME,
            description="Signs the web tag's visitor ids (docs/web-tag.md)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({}),
                generate_string_key="current",
                exclude_punctuation=True,
                password_length=64,
            ),
        )
        Validations.of(self.secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "rotated by hand with a current and a previous key (docs/web-tag.md), "
                    "so visitor ids issued with the previous key keep verifying until they "
                    "expire; a rotation Lambda would drop it"
                ),
            )
        )

    def grant(self, function: Any) -> None:
        self.secret.grant_read(function)
