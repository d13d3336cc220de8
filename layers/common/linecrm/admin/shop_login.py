"""Auto-login into the shop in the admin API (docs/auto-login.md): the channel's
shop-login setting, and the signing keys (list their ids, rotate)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response
from pydantic import BaseModel, Field

from linecrm.admin.errors import Conflict, NotFound
from linecrm.admin.params import ChannelId, Settings, new_router, no_content, responses
from linecrm.domain.shop_login import SHOP_LOGIN_SETTING, ShopLoginSettings, stored_shop_login
from linecrm.shop_login.errors import NoSigningKey
from linecrm.shop_login.keys import LoginKeyStore, RotationRefused

router = new_router()  # under /admin/channels/{channel_id}
keys_router = new_router()  # under /admin


def login_keys() -> LoginKeyStore:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real store."""
    raise NotImplementedError("build_app(..., login_keys=...) wires the login keys")


def admin_clock() -> Callable[[], datetime]:
    """Replaced by ``api.build_app`` with the function's clock."""
    raise NotImplementedError("build_app(..., clock=...) wires the clock")


Keys = Annotated[LoginKeyStore, Depends(login_keys)]
Clock = Annotated[Callable[[], datetime], Depends(admin_clock)]


@router.get(
    "/shop-login",
    tags=["auto-login"],
    responses=responses(200, "The channel's auto-login setting", 404),
)
def get_shop_login(channel_id: ChannelId, service: Settings) -> ShopLoginSettings:
    """The shop's base URL, its login page and the allow-list of target paths (404 until
    set: /liff/shop-login answers 409 then)."""
    stored = stored_shop_login(service.config(channel_id).settings)
    if stored is None:
        raise NotFound("auto-login into the shop is not set up for this channel (PUT it)")
    return stored


@router.put(
    "/shop-login",
    tags=["auto-login"],
    responses=responses(200, "The setting, as stored"),
)
def put_shop_login(
    channel_id: ChannelId, request: ShopLoginSettings, service: Settings
) -> ShopLoginSettings:
    """Set where logins go: ``<base_url><login_path>?token=…``, landing on a path of
    ``allow`` (exact, or a prefix ending in /). https only (http for localhost)."""
    service.set_setting(channel_id, SHOP_LOGIN_SETTING, request.model_dump())
    return request


@router.delete(
    "/shop-login",
    tags=["auto-login"],
    responses=responses(204, "Removed: no more logins are minted or consumed", body=False),
)
def delete_shop_login(channel_id: ChannelId, service: Settings) -> Response[None]:
    """Turn auto-login off for the channel (URLs already minted are refused at consume)."""
    service.set_setting(channel_id, SHOP_LOGIN_SETTING, None)
    return no_content()


class LoginKeyInfo(BaseModel):
    kid: str
    created_at: datetime
    retired_at: datetime | None = Field(
        description="when a newer key replaced it (it still verifies what it signed)"
    )
    active: bool


class LoginKeyListing(BaseModel):
    active_kid: str | None = Field(description="the newest key (null: none yet, rotate)")
    signing_kid: str | None = Field(
        description="the key that signs now: the active one once it is published (two "
        "minutes after a rotation), the previous one until then"
    )
    keys: list[LoginKeyInfo] = Field(description="every key in the JWKS (no private material)")


@keys_router.get(
    "/login-keys",
    tags=["auto-login"],
    responses=responses(200, "The signing keys' ids and times"),
)
def list_login_keys(keys: Keys, clock: Clock) -> LoginKeyListing:
    """The auto-login signing keys: ids, times, which is active (never private keys)."""
    try:
        current = keys.current(fresh=True)
    except NoSigningKey as error:
        raise Conflict(str(error)) from error
    return LoginKeyListing.model_validate(current.listing(clock()))


@keys_router.post(
    "/login-keys/rotate",
    tags=["auto-login"],
    responses=responses(200, "Rotated: the new listing", 409),
)
def rotate_login_keys(keys: Keys, clock: Clock) -> LoginKeyListing:
    """Add a new ES256 key and make it active; the previous key stays in the JWKS (an
    hour) so that URLs it signed still verify; keys retired longer ago are dropped."""
    now = clock()
    try:
        rotated = keys.rotate(now)
    except (RotationRefused, NoSigningKey) as error:
        raise Conflict(str(error)) from error
    return LoginKeyListing.model_validate(rotated.listing(now))
