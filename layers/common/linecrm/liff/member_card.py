"""What the member card shows for a verified LINE user: pure, from the friend's item."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from linecrm.domain.friends import FieldValue, Friend
from linecrm.liff.settings import MemberCardFields


class MemberCard(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    display_name: str | None = Field(serialization_alias="displayName")
    is_friend: bool = Field(serialization_alias="isFriend")
    linked: bool
    member_id: str | None = Field(serialization_alias="memberId")
    rank: FieldValue | None
    points: FieldValue | None


def member_card(
    friend: Friend | None, token_name: str | None, fields: MemberCardFields
) -> MemberCard:
    """The card of ``friend`` (None: the LINE user is no friend of the channel yet).

    A blocked friend's link still stands (the shop's member number is theirs), so the
    card shows it; ``isFriend`` says whether they follow the account.
    """
    if friend is None:
        return MemberCard(
            display_name=token_name,
            is_friend=False,
            linked=False,
            member_id=None,
            rank=None,
            points=None,
        )
    return MemberCard(
        display_name=friend.display_name or token_name,
        is_friend=friend.status == "active",
        linked=friend.member_id is not None,
        member_id=friend.member_id,
        rank=friend.fields.get(fields.rank) if fields.rank else None,
        points=friend.fields.get(fields.points) if fields.points else None,
    )
