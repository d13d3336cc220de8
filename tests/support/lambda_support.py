"""Loading handlers as Lambda does, a LambdaContext, and API Gateway v2 events."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from werkzeug.test import EnvironBuilder

from linecrm_local.gateway import build_event

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"


def load_handler(name: str) -> ModuleType:
    """A fresh module instance of functions/<name>/handler.py (own lazy container)."""
    path = FUNCTIONS_DIR / name / "handler.py"
    module_name = f"linecrm_test_fn_{name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeLambdaContext:
    function_name: str = "linecrm-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-1:123456789012:function:linecrm-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_ms: int = 10_000
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


def http_event(
    method: str,
    path: str,
    *,
    route: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, built by the local gateway's own
    builder, so unit tests and the local stack hand handlers the same shape (text or
    base64 body chosen by content type, as API Gateway does). The IAM-authorized admin
    routes carry what API Gateway passes for a SigV4 caller unless ``authorizer`` (a
    staff member's ``{"jwt": {"claims": …}}``) is given."""
    raw = body.encode() if isinstance(body, str) else (body or b"")
    request = EnvironBuilder(path=path, method=method, data=raw, headers=headers).get_request()
    if authorizer is None and route == "/admin/{proxy+}":
        authorizer = MACHINE_AUTHORIZER
    return build_event(
        request, raw, f"{method} {route}", path_parameters or {}, authorizer=authorizer
    )


# What API Gateway passes the admin function for a SigV4-signed call (a machine).
MACHINE_AUTHORIZER: dict[str, Any] = {
    "iam": {
        "accountId": "123456789012",
        "callerId": "AIDAEXAMPLECALLER",
        "userArn": "arn:aws:iam::123456789012:user/linecrm-cli",
        "userId": "AIDAEXAMPLECALLER",
    }
}


def staff_authorizer(role: str, email: str | None = None) -> dict[str, Any]:
    """What API Gateway's JWT authorizer passes for a Cognito staff member of ``role``
    (an array claim rendered as a string, as HTTP APIs do)."""
    return {
        "jwt": {
            "claims": {
                "sub": f"sub-{role}",
                "email": email or f"{role}@demo.linecrm.local",
                "cognito:groups": f"[{role}]",
                "token_use": "id",
            },
            "scopes": None,
        }
    }


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None
