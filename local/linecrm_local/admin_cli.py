"""``linecrm`` commands that call the admin API over HTTP (local stack or AWS).

linecrm friends list --tag vip              friends with the tag "vip" (a page; --all: all)
linecrm friends tag U… --add vip --remove trial
linecrm rules apply -f rules.yaml --dry-run  what would change, without changing it

Auth: the local stack's bearer token (``--token`` / LINECRM_ADMIN_TOKEN, default the
demo token), or ``--sigv4`` (LINECRM_AUTH=sigv4) to sign with your AWS credentials
for a deployed stack (``execute-api:Invoke`` on the API).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from linecrm_local.demo import DEMO_ADMIN_TOKEN

DEFAULT_API_URL = "http://127.0.0.1:8080"
TIMEOUT_SECONDS = 60
# A creating request (with its Idempotency-Key) is sent again after a timeout, a 5xx
# from the gateway, or a 409 with Retry-After (the key's first request still runs).
IDEMPOTENT_ATTEMPTS = 3
_RETRIED_STATUSES = (502, 503, 504)
COMMANDS = ("friends", "tags", "fields", "rules", "chat", "business-hours")
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


class AdminCliError(Exception):
    """A problem to tell the user in one line (exit status 2)."""


class IncompleteResult(AdminCliError):
    """The command ran, but what it waited for ended badly (e.g. dead chunks, every
    row rejected): the result is printed, then this line, exit status 1."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


def checked_base_url(url: str, *, option: str = "--api-url") -> str:
    """``url`` without a trailing slash, or a one-line error when it is not http(s)://host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AdminCliError(
            f"{option} {url!r} is not a URL; give the scheme and host, "
            "e.g. http://127.0.0.1:8080 or https://<api-id>.execute-api.<region>.amazonaws.com"
        )
    return url.strip().rstrip("/")


# ---------------------------------------------------------------------- HTTP
class AdminApiClient:
    """Calls ``/admin/channels/<channel>/…`` with a bearer token or SigV4."""

    def __init__(
        self,
        base_url: str,
        channel_id: str,
        *,
        token: str | None = None,
        sigv4: bool = False,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = checked_base_url(base_url)
        self.channel_id = channel_id
        self.token = token
        self.sigv4 = sigv4
        self._http = session or requests.Session()
        # One key per invocation: its retries reuse it, the next invocation has its own.
        self.idempotency_key = str(uuid.uuid4())

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        idempotent: bool = False,
    ) -> Any:
        """``idempotent``: send the invocation's Idempotency-Key (routes that create).
        ``path`` is under the channel (``/tags``), or absolute (``/admin/login-keys``)."""
        url = f"{self.base_url}/admin/channels/{quote(self.channel_id, safe='')}{path}"
        if path.startswith("/admin/"):
            url = f"{self.base_url}{path}"
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = requests.Request(
            method,
            url,
            params={k: v for k, v in (params or {}).items() if v is not None},
            data=data,
            headers=headers,
        )
        return self._result(self.send(request, idempotent=idempotent))

    def send(self, request: requests.Request, *, idempotent: bool = False) -> requests.Response:
        """Authenticate and send ``request``; an idempotent one up to 3 times, same key."""
        if idempotent:
            request.headers["Idempotency-Key"] = self.idempotency_key
        attempts = IDEMPOTENT_ATTEMPTS if idempotent else 1
        for attempt in range(1, attempts + 1):
            prepared = request.prepare()
            if self.sigv4:
                sign_sigv4(prepared)
            elif self.token:
                prepared.headers["Authorization"] = f"Bearer {self.token}"
            try:
                response = self._send(prepared)
            except requests.Timeout:
                if attempt == attempts:
                    raise AdminCliError(
                        f"the admin API at {self.base_url} did not answer"
                    ) from None
                continue
            retry = response.status_code in _RETRIED_STATUSES or (
                response.status_code == 409 and "Retry-After" in response.headers
            )
            if not retry or attempt == attempts:
                return response
            time.sleep(_retry_after(response))
        raise AssertionError("unreachable")

    def _send(self, request: requests.PreparedRequest) -> requests.Response:
        try:
            return self._http.send(request, timeout=TIMEOUT_SECONDS)
        except requests.ConnectionError as error:
            raise AdminCliError(
                f"cannot reach the admin API at {self.base_url} — is `make dev` running? "
                "(set LINECRM_API_URL or --api-url if it runs elsewhere)"
            ) from error
        except requests.Timeout:
            raise  # send() retries an idempotent request, or says it did not answer
        except requests.RequestException as error:  # e.g. an invalid URL or header
            raise AdminCliError(f"cannot call the admin API at {self.base_url}: {error}") from error

    def _result(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            payload: Any = None
        else:
            try:
                payload = response.json()
            except ValueError:
                payload = {"message": response.text.strip()[:300]}
        if response.status_code < 400:
            return payload
        raise AdminCliError(describe_error(response.status_code, payload, sigv4=self.sigv4))


def _retry_after(response: requests.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.0), 5.0)
    except ValueError:
        return 1.0


def describe_error(status: int, payload: Any, *, sigv4: bool) -> str:
    message = payload.get("message") if isinstance(payload, dict) else None
    field = payload.get("field") if isinstance(payload, dict) else None
    text = f"admin API answered {status}: {message or payload}"
    if field and field not in str(message):
        text += f" (field {field})"
    if status == 401:
        text += " — pass --token or set LINECRM_ADMIN_TOKEN (printed by `make dev`)"
    elif status == 403:
        text += (
            " — your AWS identity needs execute-api:Invoke on the API"
            if sigv4
            else " — wrong admin token (see `make dev`'s banner; use --sigv4 for AWS)"
        )
    return text


def sign_sigv4(request: requests.PreparedRequest) -> None:
    """Sign ``request`` for API Gateway (service execute-api) with the AWS credentials
    boto3 finds; the region comes from the API's host name, else from the session."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise AdminCliError("--sigv4: no AWS credentials found (aws configure / AWS_PROFILE)")
    url = str(request.url)
    host_region = _EXECUTE_API_HOST.search(urlsplit(url).hostname or "")
    region = host_region.group(1) if host_region else session.region_name
    if not region:
        raise AdminCliError("--sigv4: no AWS region (set AWS_REGION or use the API's URL)")
    signed = AWSRequest(
        method=request.method, url=url, data=request.body, headers=dict(request.headers)
    )
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(signed)
    request.headers.update(dict(signed.headers.items()))


# ---------------------------------------------------------------------- parser
def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parser: argparse.ArgumentParser,
) -> None:
    """The admin API options on ``parser`` and its command groups on ``commands``."""
    add_connection_options(parser, on_command=False)
    leaf = argparse.ArgumentParser(add_help=False)
    add_connection_options(leaf, on_command=True)

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        command = commands.add_parser(name, help=help_text)
        return command.add_subparsers(dest="action", required=True)

    def action(
        subcommands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
    ) -> argparse.ArgumentParser:
        return subcommands.add_parser(name, help=help_text, parents=[leaf])

    friends = group("friends", "friends of the channel (admin API)")
    listing = action(friends, "list", "friends, filtered, a page at a time")
    listing.add_argument("--tag", help="tag id or name")
    listing.add_argument("--status", choices=["active", "blocked", "login_only"])
    listing.add_argument("--limit", type=int, default=50, help="page size (1-200)")
    listing.add_argument("--cursor", help="next_cursor of a previous page")
    listing.add_argument("--all", action="store_true", help="follow the cursor to the end")
    action(friends, "show", "one friend").add_argument("user")
    tag = action(friends, "tag", "add and/or remove tags (ids or names)")
    tag.add_argument("user")
    tag.add_argument("--add", action="append", default=[], help="tag(s), comma-separated ok")
    tag.add_argument("--remove", action="append", default=[], help="tag(s) to remove")
    set_field = action(friends, "set-field", "set custom field values: key=value …")
    set_field.add_argument("user")
    set_field.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    set_field.add_argument("--clear", action="append", default=[], help="field key(s) to clear")
    export = action(friends, "export", "everything stored about a friend, as JSON")
    export.add_argument("user")
    export.add_argument("-o", "--output", type=Path, help="write to this file")
    delete = action(friends, "delete", "delete everything stored about a friend")
    delete.add_argument("user")
    delete.add_argument("--yes", action="store_true", help="really delete")

    tags = group("tags", "tags and tag folders")
    action(tags, "list", "tags and folders")
    create = action(tags, "create", "create a tag")
    create.add_argument("name")
    create.add_argument("--folder", help="folder id or name")
    rename = action(tags, "rename", "rename a tag")
    rename.add_argument("tag", help="tag id or name")
    rename.add_argument("new_name")
    action(tags, "delete", "delete a tag").add_argument("tag", help="tag id or name")
    folder = action(tags, "create-folder", "create a tag folder")
    folder.add_argument("name")

    fields = group("fields", "custom fields")
    action(fields, "list", "field definitions")
    field = action(fields, "create", "define a field")
    field.add_argument("key")
    field.add_argument("--type", choices=["text", "number", "date", "choice"], default="text")
    field.add_argument("--choices", help="comma-separated (choice fields)")
    field.add_argument("--label", help="display label (default: the key)")
    action(fields, "delete", "delete a field definition").add_argument("key")

    rules = group("rules", "auto-response rules")
    action(rules, "show", "the rule set")
    apply = action(rules, "apply", "replace the rule set with a YAML or JSON file")
    apply.add_argument("-f", "--file", type=Path, required=True)
    apply.add_argument("--dry-run", action="store_true", help="validate and show the diff only")
    test = action(rules, "test", "which rule would answer a message or postback")
    test.add_argument("text", nargs="?", help="message text")
    test.add_argument("--postback", help="postback data instead of text")
    test.add_argument("--user", help="as this friend (tags, chat mode, cooldowns)")
    test.add_argument("--at", help="at this time (ISO 8601; default now)")

    chat = group("chat", "1:1 chat: inbox, conversations, staff replies, chat mode")
    inbox = action(chat, "inbox", "conversations, latest activity first")
    inbox.add_argument("--filter", choices=["all", "needs_reply", "unread"], default="all")
    inbox.add_argument("--limit", type=int, default=50, help="page size (1-100)")
    inbox.add_argument("--cursor", help="cursor of a previous page")
    show = action(chat, "show", "a friend's conversation, newest first")
    show.add_argument("user")
    show.add_argument("--limit", type=int, default=50, help="page size (1-100)")
    show.add_argument("--before", help="cursor of a previous page (older messages)")
    show.add_argument("--read", action="store_true", help="and mark it read")
    answer = action(chat, "reply", "reply to one friend (a push, sent once per invocation)")
    answer.add_argument("user")
    answer.add_argument("text", nargs="?", help="the message (or --template)")
    answer.add_argument("--template", help="a saved reply's id instead of text")
    answer.add_argument("--staff", help="who answers (shown in the conversation)")
    action(chat, "read", "mark a conversation read").add_argument("user")
    templates = action(
        chat, "templates", "saved replies: list | add NAME TEXT | edit ID NAME TEXT | delete ID"
    )
    templates.add_argument(
        "op", nargs="?", choices=["list", "add", "edit", "delete"], default="list"
    )
    templates.add_argument("values", nargs="*", metavar="ARG")
    take = action(chat, "take", "take the conversation")
    take.add_argument("user")
    take.add_argument("--staff", required=True, help="who takes it")
    action(chat, "release", "hand the conversation back to automation").add_argument("user")

    hours = group("business-hours", "business hours")
    action(hours, "show", "the business hours")
    set_hours = action(hours, "set", "replace them with a YAML or JSON file")
    set_hours.add_argument("-f", "--file", type=Path, required=True)
    action(hours, "clear", "remove them (always open)")


def add_connection_options(parser: argparse.ArgumentParser, *, on_command: bool) -> None:
    """The connection options, on ``linecrm`` itself and again on every admin command
    (there with no default, so ``linecrm friends list --api-url …`` works too)."""
    env = os.environ

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if on_command else value

    parser.add_argument(
        "--api-url",
        default=default(env.get("LINECRM_API_URL", DEFAULT_API_URL)),
        help="admin API base URL (env LINECRM_API_URL; default the local gateway)",
    )
    parser.add_argument(
        "--token",
        default=default(env.get("LINECRM_ADMIN_TOKEN", DEMO_ADMIN_TOKEN)),
        help="local admin bearer token (env LINECRM_ADMIN_TOKEN; default the demo token)",
    )
    parser.add_argument(
        "--sigv4",
        action="store_true",
        default=default(env.get("LINECRM_AUTH", "").lower() == "sigv4"),
        help="sign with AWS SigV4 for a deployed stack (env LINECRM_AUTH=sigv4)",
    )
    if on_command:  # ``linecrm`` itself has --channel already
        parser.add_argument(
            "--channel", default=argparse.SUPPRESS, help="LINE channel id (env LINECRM_CHANNEL_ID)"
        )


# ---------------------------------------------------------------------- commands
def run(args: argparse.Namespace) -> Any:
    client = AdminApiClient(args.api_url, args.channel, token=args.token, sigv4=bool(args.sigv4))
    handler = _HANDLERS[(args.command, args.action)]
    return handler(client, args)


def _user(args: argparse.Namespace) -> str:
    """The friend's user id as a path segment."""
    return quote(str(args.user), safe="")


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _friends_list(client: AdminApiClient, args: argparse.Namespace) -> Any:
    params = {"tag": args.tag, "status": args.status, "limit": args.limit, "cursor": args.cursor}
    if not args.all:
        return client.call("GET", "/friends", params=params)
    return list(_all_friends(client, params))


def _all_friends(client: AdminApiClient, params: dict[str, Any]) -> Iterator[Any]:
    while True:
        page = client.call("GET", "/friends", params=params)
        yield from page["friends"]
        if not page.get("next_cursor"):
            return
        params = {**params, "cursor": page["next_cursor"]}


def _friends_tag(client: AdminApiClient, args: argparse.Namespace) -> Any:
    body = {"add_tags": _split(args.add), "remove_tags": _split(args.remove)}
    if not body["add_tags"] and not body["remove_tags"]:
        raise AdminCliError("`friends tag` needs --add and/or --remove")
    return client.call("PATCH", f"/friends/{_user(args)}", body)


def _friends_set_field(client: AdminApiClient, args: argparse.Namespace) -> Any:
    values: dict[str, str] = {}
    for assignment in args.assignments:
        key, equals, value = assignment.partition("=")
        if not equals or not key.strip():
            raise AdminCliError(f"{assignment!r} is not KEY=VALUE (e.g. rank=gold)")
        values[key.strip()] = value
    clear = _split(args.clear)
    if not values and not clear:
        raise AdminCliError("`friends set-field` needs KEY=VALUE and/or --clear KEY")
    # Values go as text; the field's type (number, date, choice) converts them.
    return client.call(
        "PATCH", f"/friends/{_user(args)}", {"set_fields": values, "clear_fields": clear}
    )


def _friends_export(client: AdminApiClient, args: argparse.Namespace) -> Any:
    exported = client.call("GET", f"/friends/{_user(args)}/export")
    if args.output is None:
        return exported
    try:
        args.output.write_text(json.dumps(exported, ensure_ascii=False, indent=2) + "\n")
    except OSError as error:
        raise AdminCliError(f"cannot write {args.output}: {error.strerror}") from error
    return {"written": str(args.output), "items": len(exported["items"])}


def _friends_delete(client: AdminApiClient, args: argparse.Namespace) -> Any:
    if not args.yes:
        raise AdminCliError(
            f"this deletes everything stored about {args.user}; add --yes to confirm"
        )
    client.call("DELETE", f"/friends/{_user(args)}")
    return {"deleted": args.user}


def _tag_id(client: AdminApiClient, reference: str) -> str:
    """A tag's id from its id or name (the API paths take ids)."""
    for tag in client.call("GET", "/tags")["tags"]:
        if reference in (tag["tag_id"], tag["name"]):
            return str(tag["tag_id"])
    raise AdminCliError(f"no tag {reference!r} (see `linecrm tags list`)")


def _folder_id(client: AdminApiClient, reference: str) -> str:
    for folder in client.call("GET", "/tag-folders")["folders"]:
        if reference in (folder["folder_id"], folder["name"]):
            return str(folder["folder_id"])
    raise AdminCliError(f"no tag folder {reference!r} (see `linecrm tags list`)")


def _tags_create(client: AdminApiClient, args: argparse.Namespace) -> Any:
    folder_id = _folder_id(client, args.folder) if args.folder else None
    return client.call("POST", "/tags", {"name": args.name, "folder_id": folder_id})


def _tags_rename(client: AdminApiClient, args: argparse.Namespace) -> Any:
    return client.call("PATCH", f"/tags/{_tag_id(client, args.tag)}", {"name": args.new_name})


def _tags_delete(client: AdminApiClient, args: argparse.Namespace) -> Any:
    tag_id = _tag_id(client, args.tag)
    client.call("DELETE", f"/tags/{tag_id}")
    return {"deleted": tag_id}


def _fields_create(client: AdminApiClient, args: argparse.Namespace) -> Any:
    body = {
        "key": args.key,
        "label": args.label or args.key,
        "type": args.type,
        "choices": _split([args.choices]) if args.choices else [],
    }
    return client.call("POST", "/fields", body)


def _fields_delete(client: AdminApiClient, args: argparse.Namespace) -> Any:
    client.call("DELETE", f"/fields/{quote(args.key, safe='')}")
    return {"deleted": args.key}


def load_document(path: Path) -> Any:
    """A YAML or JSON file's content as plain JSON values (JSON is YAML, but its errors
    read better as JSON). YAML's dates and times become ISO 8601 text."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise AdminCliError(f"cannot read {path}: {error.strerror}") from error
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise AdminCliError(
                f"{path}: not valid JSON (line {error.lineno}: {error.msg})"
            ) from error
    return _plain_json(_load_yaml(path, text))


def _load_yaml(path: Path, text: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """PyYAML's safe loader, refusing YAML 1.1's base-60 numbers: an unquoted
        ``21:00`` would otherwise arrive as the number 1260."""

    def sexagesimal_refused(constructor: Any) -> Callable[[Any, Any], Any]:
        def construct(loader: Any, node: Any) -> Any:
            if ":" in str(node.value):
                value = constructor(loader, node)
                raise AdminCliError(
                    f"{path}: line {node.start_mark.line + 1}: {node.value} unquoted is read "
                    f'by YAML 1.1 as the base-60 number {value}; quote it: "{node.value}"'
                )
            return constructor(loader, node)

        return construct

    Loader.add_constructor(
        "tag:yaml.org,2002:int", sexagesimal_refused(yaml.SafeLoader.construct_yaml_int)
    )
    Loader.add_constructor(
        "tag:yaml.org,2002:float", sexagesimal_refused(yaml.SafeLoader.construct_yaml_float)
    )
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        problem = getattr(error, "problem", None)
        raise AdminCliError(
            f"{path}: not valid YAML{line}{f': {problem}' if problem else ''}"
        ) from error


def _plain_json(value: Any) -> Any:
    """``value`` with YAML's dates and datetimes as ISO 8601 text (what the API takes)."""
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, dict):
        return {
            key if isinstance(key, str) else str(key): _plain_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_plain_json(item) for item in value]
    return value


RULES_FILE_KEYS = ("rules", "business_hours")


def _rules_apply(client: AdminApiClient, args: argparse.Namespace) -> Any:
    document = load_document(args.file)
    # A file may hold the rule list itself or {"rules": [...], "business_hours": {...}}.
    body: dict[str, Any]
    if isinstance(document, dict):
        unknown = sorted(set(document) - set(RULES_FILE_KEYS))
        if unknown:
            raise AdminCliError(
                f"{args.file}: unknown key(s) {', '.join(unknown)} "
                f"(expected {', '.join(RULES_FILE_KEYS)})"
            )
        body = {key: document[key] for key in RULES_FILE_KEYS if key in document}
    else:
        body = {"rules": document}
    if not isinstance(body.get("rules"), list):
        raise AdminCliError(f"{args.file}: expected a list of rules (or a 'rules:' key)")
    params = {"dry_run": "true"} if args.dry_run else None
    return client.call("PUT", "/rules", body, params=params)


def _rules_test(client: AdminApiClient, args: argparse.Namespace) -> Any:
    if (args.text is None) == (args.postback is None):
        raise AdminCliError('`rules test` needs the message text or --postback DATA, e.g. "hi"')
    body: dict[str, Any] = {"user_id": args.user, "at": args.at}
    body["text" if args.text is not None else "postback_data"] = args.text or args.postback
    return client.call("POST", "/rules/test", {k: v for k, v in body.items() if v is not None})


def _chat_take(client: AdminApiClient, args: argparse.Namespace) -> Any:
    return client.call("PUT", f"/friends/{_user(args)}/chat-mode", {"staff": args.staff})


def _chat_inbox(client: AdminApiClient, args: argparse.Namespace) -> Any:
    params = {"filter": args.filter, "limit": args.limit, "cursor": args.cursor}
    return client.call("GET", "/chat/conversations", params=params)


def _chat_show(client: AdminApiClient, args: argparse.Namespace) -> Any:
    user = _user(args)
    params = {"limit": args.limit, "before": args.before}
    page = client.call("GET", f"/chat/conversations/{user}/messages", params=params)
    if args.read:
        client.call("POST", f"/chat/conversations/{user}/read")
    return page


def _chat_reply(client: AdminApiClient, args: argparse.Namespace) -> Any:
    if (args.text is None) == (args.template is None):
        raise AdminCliError('`chat reply` needs the message text or --template ID, e.g. "はい"')
    body = {"text": args.text, "templateId": args.template, "staff": args.staff}
    return client.call(
        "POST",
        f"/chat/conversations/{_user(args)}/replies",
        {k: v for k, v in body.items() if v is not None},
        idempotent=True,
    )


_TEMPLATE_ARGS = {"list": 0, "add": 2, "edit": 3, "delete": 1}


def _chat_templates(client: AdminApiClient, args: argparse.Namespace) -> Any:
    values = list(args.values)
    if len(values) != _TEMPLATE_ARGS[args.op]:
        raise AdminCliError(
            "`chat templates` takes: list | add NAME TEXT | edit ID NAME TEXT | delete ID"
        )
    if args.op == "add":
        return client.call("POST", "/chat/templates", {"name": values[0], "text": values[1]})
    if args.op == "edit":
        body = {"name": values[1], "text": values[2]}
        return client.call("PUT", f"/chat/templates/{quote(values[0], safe='')}", body)
    if args.op == "delete":
        client.call("DELETE", f"/chat/templates/{quote(values[0], safe='')}")
        return {"deleted": values[0]}
    return client.call("GET", "/chat/templates")


def _hours_set(client: AdminApiClient, args: argparse.Namespace) -> Any:
    return client.call("PUT", "/business-hours", load_document(args.file))


def _hours_clear(client: AdminApiClient, args: argparse.Namespace) -> Any:
    client.call("DELETE", "/business-hours")
    return {"business_hours": None}


def _get(path: str) -> Callable[[AdminApiClient, argparse.Namespace], Any]:
    """A GET of ``path``, whose ``{user}`` is the command's user argument."""
    return lambda client, args: client.call(
        "GET", path.format(user=_user(args)) if "{user}" in path else path
    )


_HANDLERS: dict[tuple[str, str], Callable[[AdminApiClient, argparse.Namespace], Any]] = {
    ("friends", "list"): _friends_list,
    ("friends", "show"): _get("/friends/{user}"),
    ("friends", "tag"): _friends_tag,
    ("friends", "set-field"): _friends_set_field,
    ("friends", "export"): _friends_export,
    ("friends", "delete"): _friends_delete,
    ("tags", "list"): _get("/tags"),
    ("tags", "create"): _tags_create,
    ("tags", "rename"): _tags_rename,
    ("tags", "delete"): _tags_delete,
    ("tags", "create-folder"): lambda client, args: client.call(
        "POST", "/tag-folders", {"name": args.name}
    ),
    ("fields", "list"): _get("/fields"),
    ("fields", "create"): _fields_create,
    ("fields", "delete"): _fields_delete,
    ("rules", "show"): _get("/rules"),
    ("rules", "apply"): _rules_apply,
    ("rules", "test"): _rules_test,
    ("chat", "inbox"): _chat_inbox,
    ("chat", "show"): _chat_show,
    ("chat", "reply"): _chat_reply,
    ("chat", "read"): lambda client, args: client.call(
        "POST", f"/chat/conversations/{_user(args)}/read"
    ),
    ("chat", "templates"): _chat_templates,
    ("chat", "take"): _chat_take,
    ("chat", "release"): lambda client, args: client.call(
        "DELETE", f"/friends/{_user(args)}/chat-mode"
    ),
    ("business-hours", "show"): _get("/business-hours"),
    ("business-hours", "set"): _hours_set,
    ("business-hours", "clear"): _hours_clear,
}
