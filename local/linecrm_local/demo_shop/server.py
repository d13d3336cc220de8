"""The demo shop's web app (werkzeug) and its background server."""

from __future__ import annotations

import html
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from linecrm_local.demo_shop.auto_login import (
    CONSUME_PATH,
    JWKS_PATH,
    TOKEN_PARAMETER,
    AutoLoginRejected,
    AutoLoginVerifier,
    consume_body,
    is_allowed_target,
)
from linecrm_local.demo_shop.linecrm_api import LinecrmApi, LinecrmRefused, account_link_url
from linecrm_local.demo_shop.members import MEMBERS_BY_ID, PRODUCTS, Member, authenticate
from linecrm_local.serving import BackgroundWsgiServer, bind_listening_socket

logger = logging.getLogger(__name__)

SESSION_COOKIE = "demo_shop_session"
# Paths linecrm's login URLs may send a member to: the shop's own allow-list, the same
# as the channel's shop-login setting in linecrm (seeded by `make dev`).
ALLOWED_TARGETS = ("/mypage", "/cart", "/products/")
LOGIN_PATH = "/auto-login"
# linecrm's web tag (docs/web-tag.md): the landing URL's visitor id parameter and script.
VISITOR_PARAMETER = "lcv"
TAG_PATH = "/web/tag.js"


@dataclass(frozen=True)
class DemoShopConfig:
    api_url: str  # linecrm's API (the local gateway)
    channel_id: str
    source: str  # the events API source of the shop, and its key
    key: str
    account_link_dialog_url: str  # LINE's account-link dialog (the emulator's)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class Session:
    member_id: str | None = None
    cart: dict[str, int] = field(default_factory=dict)
    cart_version: int = 0
    # Came from LINE with a visitor id: the web tag on the pages reports cart and
    # purchase events (else the shop's backend sends them, signed, by member id).
    tagged: bool = False
    # linecrm.track(...) calls for the next page the session sees (JSON-ready).
    pending_tracks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class DemoShopApp:
    def __init__(self, config: DemoShopConfig, verifier: AutoLoginVerifier | None = None) -> None:
        self.config = config
        self.api = LinecrmApi(
            config.api_url,
            config.channel_id,
            source=config.source,
            key=config.key,
            clock=lambda: config.clock().timestamp(),
        )
        self.verifier = verifier or self._default_verifier()
        # linecrm's public web tag key (``linecrm webtag keys create``): with one, every
        # page embeds the tag (the local stack seeds it).
        self.web_tag_key: str | None = None
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.url_map = Map(
            [
                Rule("/", endpoint="home", methods=["GET"]),
                Rule("/products/", endpoint="home", methods=["GET"]),
                Rule("/mypage", endpoint="mypage", methods=["GET"]),
                Rule("/login", endpoint="login_form", methods=["GET"]),
                Rule("/login", endpoint="login", methods=["POST"]),
                Rule("/logout", endpoint="logout", methods=["POST"]),
                Rule(LOGIN_PATH, endpoint="auto_login", methods=["GET"]),
                Rule("/cart", endpoint="cart", methods=["GET"]),
                Rule("/cart/add", endpoint="add_to_cart", methods=["POST"]),
                Rule("/checkout", endpoint="checkout", methods=["POST"]),
            ]
        )

    def _default_verifier(self) -> AutoLoginVerifier:
        import jwt

        channel = self.api.channel_path
        jwks = jwt.PyJWKClient(
            self.config.api_url.rstrip("/") + JWKS_PATH,
            cache_keys=True,
            lifespan=300,
            timeout=10,
        )
        return AutoLoginVerifier(
            signing_key=lambda token: jwks.get_signing_key_from_jwt(token).key,
            consume=lambda token: self.api.send(
                "POST", CONSUME_PATH.format(channel_id=channel), consume_body(token)
            ),
            audience=self.config.channel_id,
            allowed_targets=ALLOWED_TARGETS,
            clock=lambda: self.config.clock().timestamp(),
        )

    # ------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        session_id = request.cookies.get(SESSION_COOKIE)
        with self._lock:
            session = self.sessions.get(session_id or "")
            if session is None:
                session_id = secrets.token_urlsafe(24)
                session = self.sessions[session_id] = Session()
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, _ = adapter.match()
            response: Response = getattr(self, endpoint)(request, session)
        except Exception as error:  # werkzeug's NotFound/MethodNotAllowed are responses
            from werkzeug.exceptions import HTTPException

            if isinstance(error, HTTPException):
                response = page("見つかりません", "<p>ページが見つかりません。</p>", None, 404)
            else:
                logger.exception("demo shop failed on %s", request.path)
                response = page("エラー", "<p>エラーが発生しました。</p>", None, 500)
        response.set_cookie(
            SESSION_COOKIE, session_id or "", httponly=True, samesite="Lax", path="/"
        )
        if self.web_tag_key and response.mimetype == "text/html":
            document = response.get_data(as_text=True)
            response.set_data(document.replace("</head>", self._tag_html(session) + "</head>", 1))
        return response(environ, start_response)

    def _tag_html(self, session: Session) -> str:
        """linecrm's web tag (the snippet ``linecrm webtag keys create`` prints) and the
        page's own ``linecrm.track`` calls: queued until the tag has loaded."""
        tracks, session.pending_tracks = session.pending_tracks, []
        calls = "".join(
            f"linecrm.track({_script_json(name)},{_script_json(properties)});"
            for name, properties in tracks
        )
        return (
            "<script>window.linecrm=window.linecrm||{q:[],track:function(){this.q.push("
            "arguments)}};</script>"
            f'<script src="{html.escape(self.config.api_url.rstrip("/") + TAG_PATH)}" '
            f'data-key="{html.escape(str(self.web_tag_key))}" async></script>'
            + (f"<script>{calls}</script>" if calls else "")
        )

    def member(self, session: Session) -> Member | None:
        return MEMBERS_BY_ID.get(session.member_id or "")

    # ------------------------------------------------------------ pages
    def home(self, request: Request, session: Session) -> Response:
        rows = "".join(
            f'<li class="product"><span>{html.escape(p.name)}</span> '
            f"<span>¥{p.price:,}</span>"
            f'<form method="post" action="/cart/add"><input type="hidden" name="sku" '
            f'value="{html.escape(p.sku)}"><button data-sku="{html.escape(p.sku)}">'
            "カートに入れる</button></form></li>"
            for p in PRODUCTS.values()
        )
        return page("デモショップ", f'<ul class="products">{rows}</ul>', self.member(session))

    def mypage(self, request: Request, session: Session) -> Response:
        member = self.member(session)
        if member is None:
            return redirect("/login")
        body = (
            f'<p id="welcome">{html.escape(member.name)} 様のマイページです。</p>'
            f"<p>カートの商品: {sum(session.cart.values())} 点</p>"
        )
        return page("マイページ", body, member)

    def login_form(self, request: Request, session: Session, error: str = "") -> Response:
        link_token = request.values.get("linkToken", "")
        note = (
            '<p class="note">ログインすると LINE と会員情報を連携します（ID連携）。</p>'
            if link_token
            else ""
        )
        problem = f'<p class="error">{html.escape(error)}</p>' if error else ""
        body = (
            f"{note}{problem}"
            '<form method="post" action="/login">'
            f'<input type="hidden" name="linkToken" value="{html.escape(link_token)}">'
            '<label>メールアドレス <input name="email" type="email" '
            'autocomplete="username"></label>'
            '<label>パスワード <input name="password" type="password" '
            'autocomplete="current-password"></label>'
            '<button id="login-button">ログイン</button></form>'
        )
        return page("ログイン", body, self.member(session), 401 if error else 200)

    def login(self, request: Request, session: Session) -> Response:
        member = authenticate(request.form.get("email", ""), request.form.get("password", ""))
        if member is None:
            return self.login_form(request, session, "メールアドレスまたはパスワードが違います。")
        session.member_id = member.member_id
        link_token = request.form.get("linkToken", "")
        if not link_token:
            return redirect("/")
        # ID linking (docs/id-linking.md §2-3): a nonce for this member and link token,
        # then LINE's account-link dialog.
        try:
            nonce = self.api.request_nonce(member.member_id, link_token)
        except LinecrmRefused as refused:
            logger.warning("linecrm refused the nonce request: %s", refused)
            body = (
                '<p class="error">LINE との連携を開始できませんでした'
                f"（{html.escape(refused.message)}）。"
                "LINE のトーク画面からもう一度お試しください。</p>"
            )
            return page("ID連携", body, member, 422)
        return redirect(account_link_url(self.config.account_link_dialog_url, link_token, nonce))

    def logout(self, request: Request, session: Session) -> Response:
        session.member_id = None
        session.tagged = False
        return redirect("/")

    def auto_login(self, request: Request, session: Session) -> Response:
        token = request.args.get(TOKEN_PARAMETER, "")
        try:
            login = self.verifier.verify(token)
        except AutoLoginRejected as rejected:
            logger.warning("auto-login rejected: %s", rejected)
            body = (
                '<p class="error" id="auto-login-rejected">自動ログインできませんでした。'
                "お手数ですがログインしてください。</p>"
            )
            return page("ログイン", body, self.member(session), 401)
        if login.member_id not in MEMBERS_BY_ID or not is_allowed_target(
            login.target, ALLOWED_TARGETS
        ):
            return page("ログイン", '<p class="error">会員が見つかりません。</p>', None, 401)
        session.member_id = login.member_id
        if login.visitor_id is not None and self.web_tag_key:
            session.tagged = True
            # The tag on the landing page keeps it (first-party cookie) and drops it
            # from the address bar.
            return redirect(_with_parameter(login.target, VISITOR_PARAMETER, login.visitor_id))
        return redirect(login.target)

    def cart(self, request: Request, session: Session) -> Response:
        note = request.args.get("note", "")
        return page("カート", self._cart_html(session, note), self.member(session))

    def add_to_cart(self, request: Request, session: Session) -> Response:
        sku = request.form.get("sku", "")
        if sku not in PRODUCTS:
            return page("カート", '<p class="error">商品が見つかりません。</p>', None, 422)
        session.cart[sku] = session.cart.get(sku, 0) + 1
        session.cart_version += 1
        if session.tagged:
            session.pending_tracks.append(
                ("cart_updated", {"value": _total(session.cart), "items": _items(session.cart)})
            )
            return redirect("/cart")
        note = self._send(
            session,
            "cart_updated",
            f"cart-{id(session)}-{session.cart_version}",
            {"items": _items(session.cart)},
        )
        return redirect("/cart" + (f"?{urlencode({'note': note})}" if note else ""))

    def checkout(self, request: Request, session: Session) -> Response:
        if not session.cart:
            return redirect("/cart")
        order_id = f"{int(time.time())}{secrets.randbelow(1000):03d}"
        total = _total(session.cart)
        if session.tagged:
            session.pending_tracks.append(
                ("purchase", {"amount": total, "order_id": order_id, "items": _items(session.cart)})
            )
            note = ""
        else:
            note = self._send(
                session,
                "purchase",
                f"order-{order_id}",
                {"order_id": order_id, "items": _items(session.cart)},
                value=total,
            )
        session.cart.clear()
        session.cart_version += 1
        body = (
            f'<p id="thanks">ご注文ありがとうございました（注文番号 {order_id}、¥{total:,}）。</p>'
            + (f'<p class="note">{html.escape(note)}</p>' if note else "")
        )
        return page("ご注文完了", body, self.member(session))

    # ------------------------------------------------------------ events
    def _send(
        self,
        session: Session,
        name: str,
        idempotency_key: str,
        properties: dict[str, Any],
        value: int | None = None,
    ) -> str:
        """Send the event for a logged-in member; a note for the page when not sent."""
        if session.member_id is None:
            return "ログインしていないため、LINE には記録されません。"
        event: dict[str, Any] = {
            "name": name,
            "member_id": session.member_id,
            "occurred_at": self.config.clock().isoformat(),
            "idempotency_key": idempotency_key,
            "value": value if value is not None else _total(session.cart),
            "properties": properties,
        }
        try:
            answer = self.api.send_event(event)
        except LinecrmRefused as refused:
            logger.warning("the events API refused %s: %s", name, refused)
            return "LINE への記録に失敗しました。"
        if answer.get("applied", 0) < 1:
            return "LINE と連携していないため、LINE には記録されません。"
        return ""

    def _cart_html(self, session: Session, note: str) -> str:
        if not session.cart:
            lines = "<p>カートは空です。</p>"
        else:
            rows = "".join(
                f"<li><span>{html.escape(PRODUCTS[sku].name)}</span> × {qty}</li>"
                for sku, qty in session.cart.items()
            )
            lines = (
                f'<ul id="cart-items">{rows}</ul><p>合計 ¥{_total(session.cart):,}</p>'
                '<form method="post" action="/checkout"><button id="checkout">購入する</button>'
                "</form>"
            )
        return lines + (f'<p class="note">{html.escape(note)}</p>' if note else "")


def _items(cart: dict[str, int]) -> list[dict[str, Any]]:
    return [{"sku": sku, "qty": qty} for sku, qty in cart.items()]


def _total(cart: dict[str, int]) -> int:
    return sum(PRODUCTS[sku].price * qty for sku, qty in cart.items())


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>`` in a value can end it)."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def _with_parameter(target: str, name: str, value: str) -> str:
    """``target`` (a path on the shop) with ``name=value`` in its query (replacing one)."""
    parts = urlsplit(target)
    query = [
        (key, item) for key, item in parse_qsl(parts.query, keep_blank_values=True) if key != name
    ]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def redirect(location: str) -> Response:
    return Response(status=303, headers={"Location": location})


def page(title: str, body: str, member: Member | None, status: int = 200) -> Response:
    if member is not None:
        who = (
            f'<p id="member">ログイン中: {html.escape(member.name)} 様'
            f'（会員番号 <span id="member-id">{html.escape(member.member_id)}</span>）</p>'
            '<form method="post" action="/logout"><button>ログアウト</button></form>'
        )
    else:
        who = '<p id="guest"><a href="/login">ログイン</a></p>'
    document = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} | linecrm デモショップ</title>"
        "<style>body{font-family:'Noto Sans CJK JP',sans-serif;max-width:640px;margin:auto;"
        "padding:16px}.error{color:#cf222e}.note{color:#57606a}label{display:block;"
        "margin:8px 0}li{margin:6px 0}</style></head><body>"
        '<header><a href="/">linecrm デモショップ</a> · <a href="/cart">カート</a>'
        f"{who}</header><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(document, status=status, content_type="text/html; charset=utf-8")


class DemoShop:
    """The demo shop on its own port (0: a free one), served by a daemon thread."""

    def __init__(
        self,
        config: DemoShopConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verifier: AutoLoginVerifier | None = None,
    ) -> None:
        self.app = DemoShopApp(config, verifier)
        self._server = BackgroundWsgiServer(
            "demo-shop", bind_listening_socket("demo shop", host, port), self.app
        )

    @property
    def url(self) -> str:
        return self._server.url

    def login_url(self) -> str:
        return f"{self.url}/login"

    def start(self) -> DemoShop:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
