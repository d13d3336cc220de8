"""Channel credentials: a channel without a readable secret is an unknown channel."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from linecrm.channels import ChannelDirectory, UnknownChannel


class RefusingSecrets:
    def __init__(self, code: str) -> None:
        self.code = code

    def get(self, name: str, **_: Any) -> str:
        try:
            raise ClientError({"Error": {"Code": self.code, "Message": name}}, "GetSecretValue")
        except ClientError as error:
            raise GetParameterError(str(error)) from None


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "AccessDeniedException"])
def test_a_missing_or_ungranted_secret_is_an_unknown_channel(code: str) -> None:
    # On AWS a role reads only the deployed channels' secrets: another channel's secret
    # is AccessDenied there, not ResourceNotFound.
    with pytest.raises(UnknownChannel):
        ChannelDirectory(RefusingSecrets(code), "linecrm/channel/").credentials("404")


def test_other_failures_are_not_hidden() -> None:
    with pytest.raises(GetParameterError):
        ChannelDirectory(RefusingSecrets("ThrottlingException"), "p/").credentials("1")
