import socket

import pytest
from pytest_socket import SocketConnectBlockedError


def test_tests_cannot_reach_beyond_this_machine() -> None:
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1, never routed
