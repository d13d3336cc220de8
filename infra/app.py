"""CDK entry point (`cdk.json`: ``.venv/bin/python infra/app.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

# `infra/` holds the linecrm_infra package; make it importable from any working dir.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from linecrm_infra.stack import build_app

if __name__ == "__main__":
    build_app().synth()
