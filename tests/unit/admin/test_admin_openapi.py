"""The committed OpenAPI document matches the code; the function serves it and Swagger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linecrm import resources
from linecrm.admin.api import openapi_document
from linecrm_local import openapi
from tests.unit.admin.conftest import AdminApi

REGENERATE = "the committed docs/admin-openapi.json is stale: run `make openapi` and commit it"


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert openapi.DOCUMENT_PATH.is_file(), REGENERATE
    committed = json.loads(openapi.DOCUMENT_PATH.read_text(encoding="utf-8"))
    assert committed == openapi_document(), REGENERATE
    assert openapi.is_current(), REGENERATE  # byte for byte, as `make openapi` writes it


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "admin-openapi.json"
    stale.write_text("{}\n")
    assert openapi.main(["--check", "--output", str(stale)]) == 1
    assert "make openapi" in capsys.readouterr().err
    assert openapi.main(["--output", str(stale)]) == 0
    assert openapi.main(["--check", "--output", str(stale)]) == 0


def test_every_operation_documents_its_errors_and_security() -> None:
    document = openapi_document()
    assert set(document["components"]["securitySchemes"]) == {"sigv4", "localBearer", "staffJwt"}
    for path, operations in document["paths"].items():
        # Per channel, but the auto-login signing keys (one set for the deployment) and
        # the staff users (one user pool for the deployment), who is calling and the
        # audit log of the changes outside a channel.
        assert path.startswith(
            (
                "/admin/channels/{channel_id}/",
                "/admin/login-keys",
                "/admin/staff",
                "/admin/me",
                "/admin/audit",
            )
        ), path
        for method, operation in operations.items():
            assert "422" in operation["responses"], (method, path)
            error = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)


def test_the_api_gateway_routes_cover_every_documented_path() -> None:
    """Every documented operation is reachable through an IAM-authorized route."""
    admin_routes = {r.method for r in resources.ROUTES if r.path == "/admin/{proxy+}"}
    assert all(r.authorization == "iam" for r in resources.ROUTES if r.path == "/admin/{proxy+}")
    for operations in openapi_document()["paths"].values():
        assert {method.upper() for method in operations} <= admin_routes


@pytest.mark.usefixtures("aws")
def test_the_function_serves_the_document_and_the_swagger_page(api: AdminApi) -> None:
    served = api.call("GET", "/admin/openapi.json")
    assert served.status == 200
    assert served.body == openapi_document()

    page = api.invoke("GET", "/admin/swagger")
    assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"].startswith("text/html")
    assert "SwaggerUIBundle" in page["body"]
