"""ID links, the nonces that complete them and the link tokens they bind to.

Items (main table, docs/data-model.md):

- the friend's profile (``CH#<channel>#FRIEND#<user>``, ``PROFILE``) holds the link:
  ``member_id``, ``linked_at``, ``link_consented_at``, ``link_consent``. Segments,
  the admin API and the friend's export read it from there (user → member);
- ``CH#<channel>#MEMBER#<member id>`` / ``IDLINK`` holds ``user_id`` (member → user):
  the events API's ``member_id`` and the shop's unlink look it up. The two are written
  in one transaction, each on a condition, so they cannot disagree;
- ``CH#<channel>#LINKNONCE#<nonce>`` / ``NONCE``: member id, link token, issued and
  valid-until times, ``used_at`` once consumed. Kept (TTL ``expires_at``) a day past
  its validity, so a replay is told apart from a nonce never issued;
- ``CH#<channel>#LINKTOKEN#<token>`` / ``LINKTOKEN``: which friend a link token was
  issued for (LINE binds it to them; we check the nonce's token is one of ours), and
  ``LINKTOKEN#<token>`` in the friend's partition pointing at it, so that erasing the
  friend deletes it too (both with the same TTL);
- ``LINKINVITE#<delivery id>`` in the friend's partition: an invitation's attempt (its
  link token and ``stage``: ``replying``, ``pushing``, ``sent``), so a redelivered
  invitation task reuses the token and never sends twice (TTL a day).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from linecrm.aws_errors import error_code
from linecrm.domain.id_links import (
    IdLink,
    InviteAttempt,
    IssuedLinkToken,
    LinkNonce,
    LinkReplacement,
    NonceRefusal,
    NotAFriend,
)
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item
from linecrm.repositories.friends import (
    LINK_TOKEN_POINTER_PREFIX,
    LINK_TOKEN_SK,
    MEMBER_SK,
    friend_key,
    friend_pk,
    link_token_pk,
    member_pk,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

NONCE_SK = "NONCE"
INVITE_ATTEMPT_PREFIX = "LINKINVITE#"
INVITE_ATTEMPT_KEPT = timedelta(days=1)  # past SQS's redelivery of the task
# Used and expired nonces stay readable this long (then DynamoDB's TTL removes them).
NONCE_RECORD_KEPT = timedelta(days=1)
_LINK_ATTRIBUTES = "member_id, linked_at, link_consented_at, link_consent"
_TRANSACTION_ATTEMPTS = 3


def nonce_pk(channel_id: str, nonce: str) -> str:
    return f"CH#{channel_id}#LINKNONCE#{nonce}"


class LinkConflict(RuntimeError):
    """The link changed under us on every attempt (concurrent links of the same pair)."""


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class IdLinkRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ------------------------------------------------------------ link tokens
    def record_link_token(self, channel_id: str, issued: IssuedLinkToken) -> None:
        expires_at = _epoch(issued.expires_at + NONCE_RECORD_KEPT)
        # The pointer first: a token item is never left without one (erasure finds it).
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": friend_pk(channel_id, issued.user_id),
                    "sk": LINK_TOKEN_POINTER_PREFIX + issued.link_token,
                    "expires_at": expires_at,
                }
            ),
        )
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": link_token_pk(channel_id, issued.link_token),
                    "sk": LINK_TOKEN_SK,
                    "user_id": issued.user_id,
                    "issued_at": iso(issued.issued_at),
                    "expires_at": expires_at,
                }
            ),
        )

    def invite_attempt(
        self, channel_id: str, user_id: str, delivery_id: str
    ) -> InviteAttempt | None:
        item = self._get(friend_pk(channel_id, user_id), INVITE_ATTEMPT_PREFIX + delivery_id)
        if item is None:
            return None
        return InviteAttempt(link_token=str(item["link_token"]), stage=item["stage"])

    def record_invite_attempt(
        self, channel_id: str, user_id: str, delivery_id: str, attempt: InviteAttempt
    ) -> None:
        """Saved before each LINE call of the invitation, and once it is sent."""
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": friend_pk(channel_id, user_id),
                    "sk": INVITE_ATTEMPT_PREFIX + delivery_id,
                    "link_token": attempt.link_token,
                    "stage": attempt.stage,
                    "expires_at": int(time.time() + INVITE_ATTEMPT_KEPT.total_seconds()),
                }
            ),
        )

    def link_token(self, channel_id: str, link_token: str) -> IssuedLinkToken | None:
        item = self._get(link_token_pk(channel_id, link_token), LINK_TOKEN_SK)
        if item is None:
            return None
        return IssuedLinkToken(
            link_token=link_token,
            user_id=str(item["user_id"]),
            issued_at=datetime.fromisoformat(str(item["issued_at"])),
        )

    # ------------------------------------------------------------ nonces
    def put_nonce(self, channel_id: str, nonce: LinkNonce) -> None:
        """Store a fresh nonce (refuses to overwrite one: 192 random bits never collide,
        so a collision is a bug to see, not to hide)."""
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": nonce_pk(channel_id, nonce.nonce),
                    "sk": NONCE_SK,
                    "member_id": nonce.member_id,
                    "link_token": nonce.link_token,
                    "issued_at": iso(nonce.issued_at),
                    "valid_until": iso(nonce.expires_at),
                    "expires_at": _epoch(nonce.expires_at + NONCE_RECORD_KEPT),
                }
            ),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def consume_nonce(
        self, channel_id: str, nonce: str, now: datetime, *, by: str
    ) -> LinkNonce | NonceRefusal:
        """Mark the nonce used by ``by`` (the webhook event), once: one conditional
        write, so two events with the same nonce cannot both link. The same event may
        consume it again (its first attempt failed after this write and LINE
        redelivered it); any other gets the refusal that says why."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": nonce_pk(channel_id, nonce), "sk": NONCE_SK}),
                UpdateExpression="SET used_at = if_not_exists(used_at, :now), used_by = :by",
                ConditionExpression=(
                    "attribute_exists(pk) AND ((attribute_not_exists(used_at) "
                    "AND valid_until > :now) OR used_by = :by)"
                ),
                ExpressionAttributeValues=to_item({":now": iso(now), ":by": by}),
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise
            return self._refusal(channel_id, nonce)
        return _nonce_of(nonce, from_item(response["Attributes"]))

    def _refusal(self, channel_id: str, nonce: str) -> NonceRefusal:
        item = self._get(nonce_pk(channel_id, nonce), NONCE_SK)
        if item is None:
            return NonceRefusal.UNKNOWN
        if "used_at" in item:
            return NonceRefusal.REPLAYED
        return NonceRefusal.EXPIRED

    def mark_nonce_refused(self, channel_id: str, nonce: str, now: datetime, *, by: str) -> None:
        """A ``failed`` accountLink burns its nonce too: it cannot be tried again."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": nonce_pk(channel_id, nonce), "sk": NONCE_SK}),
                UpdateExpression="SET used_at = :now, used_by = :by",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used_at)",
                ExpressionAttributeValues=to_item({":now": iso(now), ":by": by}),
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise

    # ------------------------------------------------------------ links
    def user_of_member(self, channel_id: str, member_id: str) -> str | None:
        """The LINE user linked to ``member_id``, checked against the friend's profile
        (an index item left behind by an erased friend counts as no link)."""
        item = self._get(member_pk(channel_id, member_id), MEMBER_SK)
        if item is None:
            return None
        user_id = str(item["user_id"])
        profile = self._get_key(friend_key(channel_id, user_id))
        if profile is None or profile.get("member_id") != member_id:
            return None
        return user_id

    def link_of_user(self, channel_id: str, user_id: str) -> IdLink | None:
        profile = self._get_key(friend_key(channel_id, user_id))
        if profile is None or not profile.get("member_id"):
            return None
        return _link_of(profile)

    def link(self, channel_id: str, link: IdLink) -> LinkReplacement:
        """Store ``link``, replacing the friend's and the member's older links (both
        sides stay one-to-one); what it replaced. ``NotAFriend`` if there is no friend."""
        for _ in range(_TRANSACTION_ATTEMPTS):
            profile = self._get_key(friend_key(channel_id, link.user_id))
            if profile is None:
                raise NotAFriend(link.user_id)
            previous_member = profile.get("member_id") or None
            member_item = self._get(member_pk(channel_id, link.member_id), MEMBER_SK)
            indexed_user = str(member_item["user_id"]) if member_item else None
            displaced_user = None
            if indexed_user and indexed_user != link.user_id:
                other = self._get_key(friend_key(channel_id, indexed_user))
                if other is not None and other.get("member_id") == link.member_id:
                    displaced_user = indexed_user
            actions = self._link_actions(
                channel_id, link, previous_member, indexed_user, displaced_user
            )
            if self._transact(actions):
                return LinkReplacement(
                    previous_member_id=previous_member
                    if previous_member != link.member_id
                    else None,
                    previous_user_id=displaced_user,
                )
        raise LinkConflict(f"the link of {link.user_id} kept changing; retry")

    def _link_actions(
        self,
        channel_id: str,
        link: IdLink,
        previous_member: str | None,
        indexed_user: str | None,
        displaced_user: str | None,
    ) -> list[TransactWriteItemTypeDef]:
        same_member = (
            "member_id = :previous" if previous_member else "attribute_not_exists(member_id)"
        )
        values: dict[str, Any] = {
            ":member": link.member_id,
            ":linked": iso(link.linked_at),
            ":consented": iso(link.consented_at),
            ":consent": link.consent,
        }
        if previous_member:
            values[":previous"] = previous_member
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(friend_key(channel_id, link.user_id)),
                    "UpdateExpression": (
                        "SET member_id = :member, linked_at = :linked, "
                        "link_consented_at = :consented, link_consent = :consent"
                    ),
                    "ConditionExpression": f"attribute_exists(pk) AND ({same_member})",
                    "ExpressionAttributeValues": to_item(values),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            "pk": member_pk(channel_id, link.member_id),
                            "sk": MEMBER_SK,
                            "channel_id": channel_id,
                            "member_id": link.member_id,
                            "user_id": link.user_id,
                            "linked_at": iso(link.linked_at),
                        }
                    ),
                    "ConditionExpression": (
                        "user_id = :indexed" if indexed_user else "attribute_not_exists(pk)"
                    ),
                    **(
                        {"ExpressionAttributeValues": to_item({":indexed": indexed_user})}
                        if indexed_user
                        else {}
                    ),
                }
            },
        ]
        if previous_member and previous_member != link.member_id:
            actions.append(self._delete_member(channel_id, previous_member, link.user_id))
        if displaced_user:
            actions.append(self._clear_profile(channel_id, displaced_user, link.member_id))
        return actions  # type: ignore[return-value]

    def unlink_user(
        self, channel_id: str, user_id: str, *, member_id: str | None = None
    ) -> str | None:
        """End the friend's link (only if to ``member_id``, when given); the member id
        it had (None: there was none, or another). The profile's condition names the
        member id read, so a link made meanwhile is never the one ended."""
        for _ in range(_TRANSACTION_ATTEMPTS):
            link = self.link_of_user(channel_id, user_id)
            if link is None or (member_id is not None and link.member_id != member_id):
                return None
            actions = [
                self._clear_profile(channel_id, user_id, link.member_id),
                self._delete_member(channel_id, link.member_id, user_id),
            ]
            if self._transact(actions):  # type: ignore[arg-type]
                return link.member_id
        raise LinkConflict(f"the link of {user_id} kept changing; retry")

    # ------------------------------------------------------------ internals
    def _delete_member(self, channel_id: str, member_id: str, user_id: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": to_item({"pk": member_pk(channel_id, member_id), "sk": MEMBER_SK}),
                "ConditionExpression": "attribute_not_exists(pk) OR user_id = :user",
                "ExpressionAttributeValues": to_item({":user": user_id}),
            }
        }

    def _clear_profile(self, channel_id: str, user_id: str, member_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item(friend_key(channel_id, user_id)),
                "UpdateExpression": f"REMOVE {_LINK_ATTRIBUTES}",
                "ConditionExpression": "member_id = :member",
                "ExpressionAttributeValues": to_item({":member": member_id}),
            }
        }

    def _transact(self, actions: list[TransactWriteItemTypeDef]) -> bool:
        """True when applied; False when a condition failed (someone changed the link)."""
        try:
            self._client.transact_write_items(TransactItems=actions)
        except Exception as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            time.sleep(0.05)
            return False
        return True

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self._get_key({"pk": pk, "sk": sk})

    def _get_key(self, key: dict[str, str]) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table, Key=to_item(key), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None


def _nonce_of(nonce: str, item: dict[str, Any]) -> LinkNonce:
    return LinkNonce(
        nonce=nonce,
        member_id=str(item["member_id"]),
        link_token=str(item["link_token"]),
        issued_at=datetime.fromisoformat(str(item["issued_at"])),
        expires_at=datetime.fromisoformat(str(item["valid_until"])),
    )


def _link_of(profile: dict[str, Any]) -> IdLink:
    linked_at = datetime.fromisoformat(str(profile["linked_at"]))
    consented = profile.get("link_consented_at")
    return IdLink(
        member_id=str(profile["member_id"]),
        user_id=str(profile["user_id"]),
        linked_at=linked_at,
        consented_at=datetime.fromisoformat(str(consented)) if consented else linked_at,
        consent=str(profile.get("link_consent") or "line_account_link"),
    )
