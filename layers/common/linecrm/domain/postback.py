"""The postback action grammar: rich menus and buttons that change CRM state, no code.

A postback's ``data`` (at most 300 characters, LINE's limit) is read as linecrm actions
only when it carries the marker pair ``linecrm=…``, written literally (``linecrm=1`` is
the one version); any other data is the shop's own and ``parse_postback`` returns no
actions. The data is an ``application/x-www-form-urlencoded`` string (``key=value``
pairs joined by ``&``, percent-encoded UTF-8, ``+`` = space):

=====================  =============================================  =================
key                    meaning                                        action
=====================  =============================================  =================
``linecrm=1``          marker: this data is for linecrm (version 1)   —
``tag.add=NAME``       add the tag named NAME                         ``AddTags``
``tag.remove=NAME``    remove the tag named NAME                      ``RemoveTags``
``field.KEY=VALUE``    set custom field KEY; an empty VALUE clears it ``SetField``
``scenario.start=ID``  start scenario ID                              ``StartScenario``
``scenario.stop=ID``   stop scenario ID                               ``StopScenario``
``richmenu=ID``        link rich menu ID or alias ID (at most one)    ``SwitchRichMenu``
``reply=rule:RULE_ID`` reply with rule RULE_ID's messages (at most 1) ``ReplyWithRule``
``account.link=1``     start ID linking (会員連携): a login button    ``LinkAccount``
``account.unlink=1``   end the friend's ID link                       ``UnlinkAccount``
=====================  =============================================  =================

Example: ``linecrm=1&tag.add=VIP&tag.add=%E3%82%BB%E3%83%BC%E3%83%AB&field.member_rank=gold``.

Operators are dotted words, not ``tag+=``/``tag-=``: form decoding turns ``+`` into a
space, so ``tag+=VIP`` would arrive as key ``"tag "``. Dots survive encoding and decoding
unchanged, so the grammar is unambiguous after standard decoding. Actions keep the order
of the pairs (the last word on a tag or field wins); consecutive pairs of the same tag
operation become one action. Field values stay strings: the field definition converts
them (numbers, dates, choices) when the change is applied.

Malformed data that carries the marker raises ``PostbackGrammarError`` (the caller logs
it and ignores the postback): unknown keys (all listed), pairs without ``=``, bad
percent-encoding, invalid names or ids, more than 20 actions, or a repeated ``richmenu``
or ``reply``. ``postback.params`` (date/time pickers) are not part of the grammar.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from pydantic import ValidationError

from linecrm.domain.actions import (
    AddTags,
    CrmAction,
    LinkAccount,
    RemoveTags,
    ReplyWithRule,
    SetField,
    StartScenario,
    StopScenario,
    SwitchRichMenu,
    UnlinkAccount,
    describe_validation_error,
)

MARKER_KEY = "linecrm"
GRAMMAR_VERSION = "1"
MAX_POSTBACK_DATA_LENGTH = 300  # LINE's limit for postback data
MAX_POSTBACK_ACTIONS = 20
FIELD_PREFIX = "field."
_ACTION_KEYS = frozenset(
    {
        "tag.add",
        "tag.remove",
        "scenario.start",
        "scenario.stop",
        "richmenu",
        "reply",
        "account.link",
        "account.unlink",
    }
)
REPLY_RULE_PREFIX = "rule:"

# Keys people are likely to write from other tools' syntax, and what they meant.
_HINTS = {
    "tag ": "tag.add",  # "tag+=" after form decoding
    "tag-": "tag.remove",
    "scenario ": "scenario.start",
    "scenario-": "scenario.stop",
    "rich_menu": "richmenu",
    "tags": "tag.add",
    "account_link": "account.link",
    "link": "account.link",
    "unlink": "account.unlink",
}


class PostbackGrammarError(ValueError):
    """The data is marked for linecrm but is not valid linecrm postback grammar."""

    def __init__(self, reason: str, unknown_keys: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.unknown_keys = unknown_keys


def is_linecrm_postback(data: str) -> bool:
    """Whether the data has a ``linecrm=…`` pair, written literally (whatever its value)."""
    # Plain string work: the shop's own data may be anything and must never raise here.
    return any(part.partition("=")[0] == MARKER_KEY for part in data.split("&") if "=" in part)


def parse_postback(data: str) -> list[CrmAction]:
    """The actions in postback data; ``[]`` when the data is not marked for linecrm."""
    if not is_linecrm_postback(data):
        return []
    if len(data) > MAX_POSTBACK_DATA_LENGTH:
        raise PostbackGrammarError(
            f"postback data is {len(data)} characters; LINE allows {MAX_POSTBACK_DATA_LENGTH}"
        )
    pairs = _decode(data)
    versions = {value for key, value in pairs if key == MARKER_KEY}
    if versions != {GRAMMAR_VERSION}:
        shown = ", ".join(sorted(repr(version) for version in versions))
        raise PostbackGrammarError(
            f"unsupported {MARKER_KEY} version {shown}; expected {MARKER_KEY}={GRAMMAR_VERSION}"
        )
    action_pairs = [(key, value) for key, value in pairs if key != MARKER_KEY]
    if len(action_pairs) > MAX_POSTBACK_ACTIONS:
        raise PostbackGrammarError(
            f"{len(action_pairs)} actions; at most {MAX_POSTBACK_ACTIONS} per postback"
        )
    _reject_unknown_keys(action_pairs)
    _reject_repeats(action_pairs, "richmenu", "reply", "account.link", "account.unlink")
    actions: list[CrmAction] = []
    for key, value in action_pairs:
        action = _action_of(key, value)
        previous = actions[-1] if actions else None
        if isinstance(action, AddTags | RemoveTags) and isinstance(previous, type(action)):
            actions[-1] = previous.model_copy(update={"tags": [*previous.tags, *action.tags]})
        else:
            actions.append(action)
    return actions


def _decode(data: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(data, keep_blank_values=True, strict_parsing=True, errors="strict")
    except ValueError as error:  # also UnicodeDecodeError: bad percent-encoded UTF-8
        raise PostbackGrammarError(f"malformed postback data: {error}") from error


def _is_known(key: str) -> bool:
    return key in _ACTION_KEYS or (key.startswith(FIELD_PREFIX) and key != FIELD_PREFIX)


def _reject_unknown_keys(pairs: list[tuple[str, str]]) -> None:
    unknown = tuple(dict.fromkeys(key for key, _ in pairs if not _is_known(key)))
    if not unknown:
        return
    described = []
    for key in unknown:
        hint = _HINTS.get(key)
        described.append(f"{key!r} (did you mean {hint!r}?)" if hint else repr(key))
    raise PostbackGrammarError(f"unknown postback keys: {', '.join(described)}", unknown)


def _reject_repeats(pairs: list[tuple[str, str]], *keys: str) -> None:
    for key in keys:
        if sum(1 for found, _ in pairs if found == key) > 1:
            raise PostbackGrammarError(f"{key!r} may appear at most once")


def _action_of(key: str, value: str) -> CrmAction:
    try:
        if key.startswith(FIELD_PREFIX):
            return SetField(field=key.removeprefix(FIELD_PREFIX), value=value or None)
        if key == "tag.add":
            return AddTags(tags=[value])
        if key == "tag.remove":
            return RemoveTags(tags=[value])
        if key == "scenario.start":
            return StartScenario(scenario=value)
        if key == "scenario.stop":
            return StopScenario(scenario=value)
        if key == "richmenu":
            return SwitchRichMenu(rich_menu=value)
        if key in ("account.link", "account.unlink"):
            if value != "1":
                raise PostbackGrammarError(f"{key}={value!r}: expected {key}=1")
            return LinkAccount() if key == "account.link" else UnlinkAccount()
        if not value.startswith(REPLY_RULE_PREFIX):  # key == "reply"
            raise PostbackGrammarError(
                f"reply={value!r}: expected reply={REPLY_RULE_PREFIX}RULE_ID"
            )
        return ReplyWithRule(rule_id=value.removeprefix(REPLY_RULE_PREFIX))
    except ValidationError as error:
        raise PostbackGrammarError(
            f"{key}={value!r}: {describe_validation_error(error)}"
        ) from error
