"""Reading botocore ``ClientError`` codes without importing botocore."""

from __future__ import annotations


def error_code(error: BaseException | None) -> str:
    """The AWS error code of a botocore ClientError, or "" for anything else."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
