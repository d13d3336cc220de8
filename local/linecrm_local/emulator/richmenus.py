"""Rich menu and audience routes (the data-API uploads included)."""

from __future__ import annotations

import secrets
from typing import Any

from werkzeug.wrappers import Response

from .http import MSG_NOT_FOUND, ApiRequest, HttpError, json_response
from .state import AudienceGroup, EmulatorState, RichMenu

IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
MAX_IMAGE_BYTES = 1024 * 1024  # LINE: rich menu image at most 1 MB
AUDIENCE_FILE_MAX_IDS = 1_500_000
AUDIENCE_TTL_SECONDS = 180 * 24 * 3600


class RichMenuRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _menu(self, api: ApiRequest, rich_menu_id: str) -> RichMenu:
        menu = self.state.rich_menus.get(rich_menu_id)
        if menu is None or menu.channel_id != api.channel_id:
            raise HttpError(404, MSG_NOT_FOUND)
        return menu

    def _linkable(self, api: ApiRequest, rich_menu_id: str) -> RichMenu:
        menu = self._menu(api, rich_menu_id)
        if menu.image is None:
            raise HttpError(400, "must upload richmenu image before applying it to user")
        return menu

    # ------------------------------------------------------------ menus
    def create(self, api: ApiRequest) -> Response:
        menu = RichMenu("richmenu-" + secrets.token_hex(16), api.channel_id, dict(api.body))
        with self.state.lock:
            self.state.rich_menus[menu.rich_menu_id] = menu
        return json_response({"richMenuId": menu.rich_menu_id})

    def get(self, api: ApiRequest) -> Response:
        with self.state.lock:
            return json_response(self._menu(api, api.path_params["richMenuId"]).to_json())

    def list_menus(self, api: ApiRequest) -> Response:
        with self.state.lock:
            menus = [
                m.to_json()
                for m in self.state.rich_menus.values()
                if m.channel_id == api.channel_id
            ]
        return json_response({"richmenus": menus})

    def delete(self, api: ApiRequest) -> Response:
        with self.state.lock:
            menu = self._menu(api, api.path_params["richMenuId"])
            del self.state.rich_menus[menu.rich_menu_id]
            if self.state.default_rich_menu.get(api.channel_id) == menu.rich_menu_id:
                del self.state.default_rich_menu[api.channel_id]
            for friend in self.state.friends[api.channel_id].values():
                if friend.linked_rich_menu_id == menu.rich_menu_id:
                    friend.linked_rich_menu_id = None
        return json_response({})

    def upload_image(self, api: ApiRequest) -> Response:
        content_type = (api.request.mimetype or "").lower()
        if content_type not in IMAGE_TYPES:
            raise HttpError(415, "The content type must be image/jpeg or image/png")
        image = api.request.get_data(cache=True)
        if not image:
            raise HttpError(400, "The request body is empty")
        if len(image) > MAX_IMAGE_BYTES:
            raise HttpError(400, "The image size must be 1 MB or less")
        with self.state.lock:
            menu = self._menu(api, api.path_params["richMenuId"])
            if menu.image is not None:
                raise HttpError(400, "An image has already been uploaded to the richmenu")
            menu.image, menu.image_content_type = image, content_type
        return json_response({})

    # ------------------------------------------------------------ per user
    def link(self, api: ApiRequest) -> Response:
        with self.state.lock:
            menu = self._linkable(api, api.path_params["richMenuId"])
            friend = self.state.friend(api.channel_id, api.path_params["userId"])
            if friend is None:
                raise HttpError(400, "The user hasn't added the LINE Official Account as a friend")
            friend.linked_rich_menu_id = menu.rich_menu_id
        return json_response({})

    def linked(self, api: ApiRequest) -> Response:
        friend = self.state.friend(api.channel_id, api.path_params["userId"])
        if friend is None or friend.linked_rich_menu_id is None:
            raise HttpError(404, "the user has no richmenu")
        return json_response({"richMenuId": friend.linked_rich_menu_id})

    def unlink(self, api: ApiRequest) -> Response:
        friend = self.state.friend(api.channel_id, api.path_params["userId"])
        if friend is not None:
            friend.linked_rich_menu_id = None
        return json_response({})

    def bulk_link(self, api: ApiRequest) -> Response:
        with self.state.lock:
            menu = self._linkable(api, api.body["richMenuId"])
            for user_id in api.body["userIds"]:
                friend = self.state.friend(api.channel_id, user_id)
                if friend is not None:
                    friend.linked_rich_menu_id = menu.rich_menu_id
        return json_response({}, 202)

    def bulk_unlink(self, api: ApiRequest) -> Response:
        with self.state.lock:
            for user_id in api.body["userIds"]:
                friend = self.state.friend(api.channel_id, user_id)
                if friend is not None:
                    friend.linked_rich_menu_id = None
        return json_response({}, 202)

    # ------------------------------------------------------------ default menu
    def set_default(self, api: ApiRequest) -> Response:
        with self.state.lock:
            menu = self._linkable(api, api.path_params["richMenuId"])
            self.state.default_rich_menu[api.channel_id] = menu.rich_menu_id
        return json_response({})

    def get_default(self, api: ApiRequest) -> Response:
        rich_menu_id = self.state.default_rich_menu.get(api.channel_id)
        if rich_menu_id is None:
            raise HttpError(404, "no default richmenu")
        return json_response({"richMenuId": rich_menu_id})

    def clear_default(self, api: ApiRequest) -> Response:
        with self.state.lock:
            self.state.default_rich_menu.pop(api.channel_id, None)
        return json_response({})

    # ------------------------------------------------------------ aliases
    def create_alias(self, api: ApiRequest) -> Response:
        alias_id, rich_menu_id = api.body["richMenuAliasId"], api.body["richMenuId"]
        with self.state.lock:
            self._linkable(api, rich_menu_id)
            aliases = self.state.rich_menu_aliases[api.channel_id]
            if alias_id in aliases:
                raise HttpError(400, "conflict richmenu alias id")
            aliases[alias_id] = rich_menu_id
        return json_response({})

    def list_aliases(self, api: ApiRequest) -> Response:
        with self.state.lock:
            aliases = dict(self.state.rich_menu_aliases[api.channel_id])
        return json_response(
            {
                "aliases": [
                    {"richMenuAliasId": alias_id, "richMenuId": rich_menu_id}
                    for alias_id, rich_menu_id in sorted(aliases.items())
                ]
            }
        )

    def update_alias(self, api: ApiRequest) -> Response:
        alias_id = api.path_params["richMenuAliasId"]
        with self.state.lock:
            aliases = self.state.rich_menu_aliases[api.channel_id]
            if alias_id not in aliases:
                # The spec lists 200 and 400 only: an unknown alias is a bad request.
                raise HttpError(400, "richmenu alias not found")
            aliases[alias_id] = self._linkable(api, api.body["richMenuId"]).rich_menu_id
        return json_response({})

    def get_alias(self, api: ApiRequest) -> Response:
        alias_id = api.path_params["richMenuAliasId"]
        rich_menu_id = self.state.rich_menu_aliases[api.channel_id].get(alias_id)
        if rich_menu_id is None:
            raise HttpError(404, MSG_NOT_FOUND)
        return json_response({"richMenuAliasId": alias_id, "richMenuId": rich_menu_id})

    def delete_alias(self, api: ApiRequest) -> Response:
        with self.state.lock:
            if (
                self.state.rich_menu_aliases[api.channel_id].pop(
                    api.path_params["richMenuAliasId"], None
                )
                is None
            ):
                raise HttpError(404, MSG_NOT_FOUND)
        return json_response({})


class AudienceRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _create(
        self, api: ApiRequest, description: str, user_ids: list[str], ifa: bool
    ) -> Response:
        now = int(self.state.clock())
        with self.state.lock:
            group_id = 1_000_000_000_000 + len(self.state.audiences) + 1
            group = AudienceGroup(group_id, api.channel_id, description, now, user_ids, ifa)
            self.state.audiences[group_id] = group
        body: dict[str, Any] = {**group.to_json(), "expireTimestamp": now + AUDIENCE_TTL_SECONDS}
        for field in ("status", "audienceCount"):
            body.pop(field)
        return json_response(body, 202)

    def upload(self, api: ApiRequest) -> Response:
        user_ids = [entry["id"] for entry in api.body.get("audiences", []) if "id" in entry]
        return self._create(
            api, api.body.get("description", ""), user_ids, bool(api.body.get("isIfaAudience"))
        )

    def upload_file(self, api: ApiRequest) -> Response:
        upload = api.request.files.get("file")
        if upload is None:
            raise HttpError(400, "The request part 'file' is required")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError as bad:
            raise HttpError(400, "The file must be UTF-8 text, one user ID per line") from bad
        user_ids = [line.strip() for line in text.splitlines() if line.strip()]
        if not user_ids or len(user_ids) > AUDIENCE_FILE_MAX_IDS:
            raise HttpError(400, f"The file must hold 1..{AUDIENCE_FILE_MAX_IDS} user IDs")
        form = api.request.form
        return self._create(
            api, form.get("description", ""), user_ids, form.get("isIfaAudience") == "true"
        )

    def add(self, api: ApiRequest) -> Response:
        with self.state.lock:
            group = self.state.audiences.get(api.body.get("audienceGroupId", -1))
            if group is None or group.channel_id != api.channel_id:
                raise HttpError(404, MSG_NOT_FOUND)
            group.user_ids.extend(e["id"] for e in api.body.get("audiences", []) if "id" in e)
        return json_response({}, 202)

    def get(self, api: ApiRequest) -> Response:
        raw_id = api.path_params["audienceGroupId"]
        group = self.state.audiences.get(int(raw_id)) if raw_id.isdigit() else None
        if group is None or group.channel_id != api.channel_id:
            raise HttpError(404, MSG_NOT_FOUND)
        return json_response({"audienceGroup": group.to_json(), "jobs": []})
