"""End-to-end tests run on the local stack, with every function's AWS calls checked."""

from __future__ import annotations

# Every AWS call a function makes is checked against its role in the CDK template.
from tests.support.grants import grants_from_the_template, no_ungranted_calls  # noqa: F401
