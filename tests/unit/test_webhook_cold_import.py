"""The webhook's cold start loads only what the webhook uses (issue 9, "cold starts").

LINE's 2 s include the cold start. A fresh interpreter, with the environment Lambda
gives the function (``resources.PYTHON_ENVIRONMENT``, Powertools' service name, the
webhook's settings), imports the handler, then builds what its first request uses (the
container and the webhook receiver, as ``lambda_handler`` does). None of the modules
below may be loaded by then: each is heavy, or only other functions need it. Counted,
not timed (the timing is ``make bench``: ``benchmarks/cold_import.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from linecrm import resources
from linecrm.config.webhook import WebhookSettings

ROOT = Path(__file__).resolve().parents[2]

# Not loaded by the handler's import (each with what it would cost or why it is not needed).
NOT_AT_IMPORT = {
    "boto3": "clients are created on first use (the container)",
    "botocore.session": "clients are created on first use (the container)",
    "linebot": "line-bot-sdk: its messaging models are a whole import of their own",
    "aws_lambda_powertools.event_handler": "every resolver, asyncio and ssl (handler.py)",
    "aws_xray_sdk": "no X-Ray SDK patching in the webhook",
    "asyncio": "pulled in by the event-handler package only",
    "ssl": "pulled in by the event-handler package only",
    "re2": "imported when a regex rule is first compiled",
    "urllib.request": "LINE Login's verifier (linecrm.line.login): LIFF login only",
    "linecrm.resources": "resource definitions: the settings read linecrm.environment",
    "linecrm.repositories": "built by the container on the first request",
    "linecrm.domain.id_links": "ID linking: imported by the first accountLink event",
}

# Not loaded even after the first request's objects are built: other functions' code.
NEVER = {
    "PIL": "rich menu images (admin, jobs)",
    "segno": "QR codes of inflow routes (admin)",
    "jwt": "ID tokens and auto-login (liff_login, inflow)",
    "cryptography": "ID tokens and auto-login (liff_login, inflow)",
    "linebot": "line-bot-sdk: linecrm's own LINE client is used",
    "aws_lambda_powertools.event_handler": "every resolver, asyncio and ssl (handler.py)",
    "aws_xray_sdk": "no X-Ray SDK patching in the webhook",
    "linecrm.resources": "resource definitions: the settings read linecrm.environment",
    "linecrm.admin": "the admin API",
    "linecrm.reports": "the admin API's reports",
    "linecrm.insight": "LINE insight (jobs, admin)",
    "linecrm.imports": "friend imports (jobs, admin)",
    "linecrm.broadcasts": "broadcasts (admin, jobs, scheduler)",
    "linecrm.shop_login": "auto-login (liff_login, events)",
    "linecrm.liff": "LIFF pages (liff_login)",
    "linecrm.events": "the events API",
    "linecrm.experiments": "the experiment report (admin)",
    "linecrm.richmenus.service": "rich menu sets (admin)",
    "linecrm.richmenus.jobs": "rich menu sync (jobs)",
    "linecrm.delivery.sender": "sending (the sender function)",
    "linecrm.config.registry": "every function's settings model (tests, local stack)",
    "linecrm.config.liff_login": "LIFF login's settings",
    "linecrm.line.login_settings": "ID token verification settings (LIFF login)",
    "linecrm.config.admin": "the admin API's settings",
    "linecrm.config.sender": "the sender's settings",
}

CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])

def loaded():
    return sorted(sys.modules)

import handler
at_import = loaded()
handler.container().webhook_receiver
print(json.dumps({"import": at_import, "first_request": loaded()}))
"""


@pytest.fixture(scope="module")
def loaded_modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    home = tmp_path_factory.mktemp("home")
    # Placeholders for the webhook's required settings: building its objects calls no AWS.
    settings = {
        field.alias: "placeholder"
        for field in WebhookSettings.model_fields.values()
        if field.alias is not None and field.is_required()
    }
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in ("layers/common", "local")),
        "POWERTOOLS_SERVICE_NAME": resources.APP_NAME,
        "AWS_DEFAULT_REGION": resources.DEFAULT_REGION,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(home),
        **resources.PYTHON_ENVIRONMENT,
        **settings,
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "functions" / "webhook")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # generous: a busy machine
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def _loaded(modules: list[str], forbidden: dict[str, str]) -> dict[str, str]:
    return {
        name: why
        for name, why in forbidden.items()
        if any(module == name or module.startswith(name + ".") for module in modules)
    }


def test_the_handler_import_loads_none_of_the_deferred_modules(
    loaded_modules: dict[str, list[str]],
) -> None:
    assert _loaded(loaded_modules["import"], NOT_AT_IMPORT) == {}


def test_the_first_request_objects_load_no_other_functions_code(
    loaded_modules: dict[str, list[str]],
) -> None:
    assert _loaded(loaded_modules["first_request"], NEVER) == {}


def test_the_check_sees_what_is_loaded(loaded_modules: dict[str, list[str]]) -> None:
    # What the webhook does need is there, so an empty answer above means absent.
    assert {"pydantic", "linecrm.webhook.service", "linecrm.config"} <= set(
        loaded_modules["import"]
    )
    assert {"boto3", "linecrm.repositories.friends", "linecrm.scenarios.engine"} <= set(
        loaded_modules["first_request"]
    )
    assert _loaded(loaded_modules["import"], {"linecrm.domain": "x"}) == {"linecrm.domain": "x"}
