"""Writes (or checks) the admin API's committed OpenAPI document, from the code.

python -m linecrm_local.openapi           # rewrite docs/admin-openapi.json
python -m linecrm_local.openapi --check   # exit 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from linecrm.admin.api import openapi_document

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_PATH = REPO_ROOT / "docs" / "admin-openapi.json"
REGENERATE = "make openapi"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def is_current(path: Path = DOCUMENT_PATH) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == render(openapi_document())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m linecrm_local.openapi")
    parser.add_argument("--check", action="store_true", help="only check, do not write")
    parser.add_argument("--output", type=Path, default=DOCUMENT_PATH)
    args = parser.parse_args(argv)
    if args.check:
        if is_current(args.output):
            return 0
        print(f"{args.output} is out of date: run `{REGENERATE}`", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(openapi_document()), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
