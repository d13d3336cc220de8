from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from linecrm.resources import Route
from linecrm_local.gateway import MAX_PAYLOAD_BYTES, LocalGateway, to_http_response
from linecrm_local.lambda_runtime import LocalFunctions

from .conftest import BOOM, ECHO

pytestmark = pytest.mark.integration

TOKEN = "s3cret-admin"
ROUTES = (
    Route("POST", "/echo/{item_id}", ECHO, "none"),
    Route("GET", "/echo/{item_id}", ECHO, "none"),
    Route("GET", "/echo/static", ECHO, "none"),
    Route("GET", "/files/{path+}", ECHO, "none"),
    Route("GET", "/admin/things", ECHO, "iam"),
    Route("POST", "/boom", BOOM, "none"),
)


@pytest.fixture
def gateway(functions: LocalFunctions) -> Iterator[LocalGateway]:
    gateway = LocalGateway(functions, admin_token=TOKEN, routes=ROUTES)
    gateway.start()
    yield gateway
    gateway.stop()


def echoed(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    event: dict[str, Any] = response.json()["event"]
    return event


def test_text_body_query_headers_and_path_become_a_v2_event(gateway: LocalGateway) -> None:
    response = requests.post(
        f"{gateway.url}/echo/42?a=1&a=2&b=x%20y",
        data=json.dumps({"hi": "there"}).encode(),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": "sig",
            "Cookie": "c1=v1; c2=v2",
            "User-Agent": "tests/1.0",
        },
        timeout=5,
    )
    event = echoed(response)

    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo/{item_id}"
    assert event["rawPath"] == "/echo/42"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["headers"]["x-line-signature"] == "sig"
    assert event["headers"]["content-type"] == "application/json; charset=utf-8"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["body"] == '{"hi": "there"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/echo/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1.0",
    }
    assert context["routeKey"] == "POST /echo/{item_id}"
    assert context["stage"] == "$default"
    assert context["accountId"] == "123456789012"
    assert context["domainName"] == f"127.0.0.1:{gateway.port}"
    assert isinstance(context["timeEpoch"], int)
    assert context["requestId"]
    assert response.headers["x-echo"] == "yes"
    assert response.headers["apigw-requestid"]


def test_binary_or_non_utf8_bodies_are_base64_encoded(gateway: LocalGateway) -> None:
    payload = b"\x00\x01\xfe\xff"
    for content_type in ("application/octet-stream", "text/plain"):
        event = echoed(
            requests.post(
                f"{gateway.url}/echo/1",
                data=payload,
                headers={"Content-Type": content_type},
                timeout=5,
            )
        )
        assert event["isBase64Encoded"] is True, content_type
        assert base64.b64decode(event["body"]) == payload


def test_a_text_body_without_utf8_issues_stays_text(gateway: LocalGateway) -> None:
    event = echoed(
        requests.post(
            f"{gateway.url}/echo/1",
            data="名前=花子".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=5,
        )
    )
    assert event["body"] == "名前=花子"
    assert event["isBase64Encoded"] is False


def test_no_body_no_query_means_no_such_keys(gateway: LocalGateway) -> None:
    event = echoed(requests.get(f"{gateway.url}/echo/7", timeout=5))

    assert "body" not in event
    assert "queryStringParameters" not in event
    assert event["rawQueryString"] == ""


def test_static_routes_win_over_parameters_and_greedy_paths_match(gateway: LocalGateway) -> None:
    assert echoed(requests.get(f"{gateway.url}/echo/static", timeout=5))["routeKey"] == (
        "GET /echo/static"
    )
    event = echoed(requests.get(f"{gateway.url}/files/a/b/c.txt", timeout=5))
    assert event["pathParameters"] == {"path": "a/b/c.txt"}


def test_no_matching_route_is_api_gateways_404(gateway: LocalGateway) -> None:
    for method, path in (("GET", "/nowhere"), ("DELETE", "/echo/1"), ("POST", "/echo")):
        response = requests.request(method, gateway.url + path, timeout=5)
        assert response.status_code == 404
        assert response.json() == {"message": "Not Found"}


def test_the_root_lists_the_routes(gateway: LocalGateway) -> None:
    index = requests.get(gateway.url + "/", timeout=5).json()

    assert {"route": "POST /boom", "function": "boom", "authorization": "none"} in index["routes"]
    assert len(index["routes"]) == len(ROUTES)


def test_a_payload_over_10_mb_is_413(gateway: LocalGateway, functions: LocalFunctions) -> None:
    response = requests.post(
        f"{gateway.url}/echo/1",
        data=b"x" * (MAX_PAYLOAD_BYTES + 1),
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )

    assert response.status_code == 413
    assert functions.invocation_count("echo") == 0


def test_a_handler_exception_is_a_counted_500(gateway: LocalGateway) -> None:
    response = requests.post(f"{gateway.url}/boom", timeout=5)

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert gateway.internal_errors == 1


def test_an_invalid_lambda_response_is_a_counted_500(gateway: LocalGateway) -> None:
    response = requests.get(f"{gateway.url}/echo/1?mode=bad-status", timeout=5)

    assert response.status_code == 500
    assert gateway.internal_errors == 1


def test_iam_routes_need_the_admin_token(gateway: LocalGateway) -> None:
    url = f"{gateway.url}/admin/things"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = requests.get(url, headers=headers, timeout=5)
        assert response.status_code == 403, headers
        assert response.json() == {"message": "Forbidden"}

    event = echoed(requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5))
    assert event["requestContext"]["authorizer"]["iam"]["accountId"] == "123456789012"


def test_bare_results_follow_api_gateways_inference(gateway: LocalGateway) -> None:
    text = requests.get(f"{gateway.url}/echo/1?mode=string", timeout=5)
    assert (text.status_code, text.text) == (200, "plain words")
    assert text.headers["content-type"] == "application/json"

    bare = requests.get(f"{gateway.url}/echo/1?mode=bare", timeout=5)
    assert (bare.status_code, bare.json()) == (200, {"bare": True})


def test_structured_results_map_status_base64_body_and_cookies(gateway: LocalGateway) -> None:
    response = requests.get(f"{gateway.url}/echo/1?mode=binary", timeout=5)

    assert response.status_code == 201
    assert response.content == b"\x89PNG\x00\xff"
    assert response.headers["content-type"] == "image/png"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2"]


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
        {"statusCode": 200, "headers": ["x"]},
    ],
)
def test_malformed_structured_results_are_rejected(result: dict[str, Any]) -> None:
    from linecrm_local.gateway import InvalidLambdaResponse

    with pytest.raises(InvalidLambdaResponse):
        to_http_response(result)


def test_a_busy_port_is_a_clear_error(gateway: LocalGateway, functions: LocalFunctions) -> None:
    from linecrm_local.serving import PortInUseError

    with pytest.raises(PortInUseError, match=f"port {gateway.port}"):
        LocalGateway(functions, port=gateway.port).bind()
