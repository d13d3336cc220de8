"""The ``linecrm`` CLI runs without the local stack: ``pip install '.[cli]'`` is enough.

A child interpreter in which the local stack's packages cannot be imported runs the
CLI (help, a SigV4-signed admin call, a YAML file); every third-party module it loaded
must come from the runtime dependencies or the ``cli`` extra (or what they require).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
# What the local stack, the tests and the infra bring; the CLI must need none of them.
LOCAL_STACK_ONLY = [
    "moto",
    "werkzeug",
    "openapi_core",
    "jsonschema",
    "flask",
    "jwt",
    "aws_cdk",
    "cdk_nag",
    "schemathesis",
    "hypothesis",
    "pytest",
]
OWN_PACKAGES = {"linecrm", "linecrm_local"}

CHILD = """
import sys

started_with = {name.split(".")[0] for name in sys.modules}  # the interpreter's start-up

import importlib.abc, json

BLOCKED = set(sys.argv[1].split(","))

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"the CLI imported {name}, which only the local stack has")
        return None

sys.meta_path.insert(0, Blocked())

import requests

sent = []

def send(self, request, **kwargs):
    sent.append(request)
    response = requests.Response()
    response.status_code = 200
    response._content = b'{"items": [], "next_cursor": null}'
    response.headers["Content-Type"] = "application/json"
    return response

requests.Session.send = send

from pathlib import Path
from linecrm_local import admin_cli, cli

try:
    cli.main(["--help"])
except SystemExit as done:
    assert done.code == 0, done.code
api = "https://abc123defg.execute-api.ap-northeast-1.amazonaws.com"
assert cli.main(["friends", "list", "--sigv4", "--api-url", api, "--channel", "1"]) == 0
assert sent and sent[0].headers["Authorization"].startswith("AWS4-HMAC-SHA256"), sent
document = Path(sys.argv[2])
document.write_text("rules:\\n  - when: 21:00\\n", encoding="utf-8")
try:
    admin_cli.load_document(document)
except admin_cli.AdminCliError:
    pass  # refused (a base-60 number): what matters is that YAML could be read
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} - started_with)))
"""


def _cli_modules(tmp_path: Path) -> set[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in ("layers/common", "local")),
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(  # the child makes no network call: Session.send is replaced
        [sys.executable, "-c", CHILD, ",".join(LOCAL_STACK_ONLY), str(tmp_path / "r.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def _installed_closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, with what they require in turn
    (requirements behind an extra of theirs left out)."""
    seen: set[str] = set()
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        name = metadata.distribution(requirement.name).metadata["Name"]
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.requires(name) or []:
            nested = Requirement(text)
            if nested.marker is not None and "extra" in str(nested.marker):
                continue
            if nested.marker is not None and not nested.marker.evaluate():
                continue
            pending.append(nested)
    return seen


def test_the_cli_needs_only_the_runtime_dependencies_and_the_cli_extra(
    tmp_path: Path,
) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    cli_extra = project["optional-dependencies"]["cli"]
    assert {Requirement(text).name.lower() for text in cli_extra} >= {"requests", "pyyaml"}
    allowed = _installed_closure(project["dependencies"] + cli_extra)

    loaded = _cli_modules(tmp_path)
    assert not loaded & set(LOCAL_STACK_ONLY)
    distributions = metadata.packages_distributions()
    third_party = loaded - set(sys.stdlib_module_names) - OWN_PACKAGES
    outside = {
        module: providers
        for module in third_party
        if (providers := distributions.get(module))
        and not {name.lower().replace("_", "-") for name in providers} & allowed
    }
    assert outside == {}, f"the CLI imports modules from outside its extra: {outside}"
    assert {"requests", "botocore", "yaml"} <= loaded
