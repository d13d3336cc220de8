"""``python -m linecrm_local.dev`` (``make dev``) as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from linecrm_local import demo

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_env(**ports: int | str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LINECRM_"))}
    env.update({name: str(value) for name, value in ports.items()})
    return env


def start_dev(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "linecrm_local.dev"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Output:
    """Collects a pipe in the background so the child never blocks on a full pipe."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            time.sleep(0.05)
        return False

    @property
    def text(self) -> str:
        self._thread.join(timeout=5)
        return "".join(self.lines)


@pytest.fixture
def ports() -> dict[str, int]:
    return {
        "LINECRM_PORT": free_port(),
        "LINECRM_EMULATOR_PORT": free_port(),
        "LINECRM_MOTO_PORT": free_port(),
        "LINECRM_SHOP_PORT": free_port(),
    }


def test_dev_serves_prints_a_banner_and_stops_cleanly_on_sigint(ports: dict[str, int]) -> None:
    process = start_dev(dev_env(**ports))
    stdout, stderr = Output(process.stdout), Output(process.stderr)
    try:
        assert stdout.wait_for("demo channel", timeout=20), stderr.text
        gateway = f"http://127.0.0.1:{ports['LINECRM_PORT']}"
        assert requests.get(gateway + "/", timeout=5).status_code == 200
        emulator_page = f"http://127.0.0.1:{ports['LINECRM_EMULATOR_PORT']}/_emulator/"
        assert requests.get(emulator_page, timeout=5).status_code == 200
        shop = f"http://127.0.0.1:{ports['LINECRM_SHOP_PORT']}"
        shop_page = requests.get(shop + "/", timeout=5).text
        assert "デモショップ" in shop_page
        # The shop's pages carry the web tag, served by the gateway (docs/web-tag.md).
        assert f'src="{gateway}/web/tag.js" data-key="pk_' in shop_page
        assert requests.get(gateway + "/web/tag.js", timeout=60).status_code == 200
        # The admin function's cold start: generous on a busy machine.
        assert requests.get(gateway + "/admin/swagger", timeout=60).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    banner = stdout.text
    assert f"{gateway}/webhook/{demo.DEMO_CHANNEL_ID}" in banner
    assert demo.DEMO_CHANNEL_SECRET in banner
    assert demo.DEMO_CHANNEL_ACCESS_TOKEN in banner
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{ports['LINECRM_MOTO_PORT']}" in banner
    assert (
        f"export LINECRM_EMULATOR_URL=http://127.0.0.1:{ports['LINECRM_EMULATOR_PORT']}" in banner
    )
    assert ".venv/bin/linecrm simulate follow" in banner
    assert f"{gateway}/admin/swagger" in banner
    assert demo.DEMO_ADMIN_TOKEN in banner
    assert f"{gateway}/events/{demo.DEMO_CHANNEL_ID}" in banner
    assert demo.DEMO_EVENT_SOURCE_KEY in banner
    assert f"demo shop        {shop}" in banner
    assert f"{gateway}/liff/{demo.DEMO_CHANNEL_ID}/card" in banner
    assert f"{gateway}/admin/dashboard?channel={demo.DEMO_CHANNEL_ID}" in banner
    assert f"admin console    {gateway}/console/" in banner
    assert f"web tag          {gateway}/web/tag.js" in banner
    assert "    shop's key     pk_" in banner
    assert "Traceback" not in stderr.text


def test_sigterm_stops_it_too(ports: dict[str, int]) -> None:
    process = start_dev(dev_env(**ports))
    stdout, stderr = Output(process.stdout), Output(process.stderr)
    try:
        assert stdout.wait_for("demo channel", timeout=20), stderr.text
        process.terminate()
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in stderr.text


@pytest.mark.parametrize(
    "busy", ["LINECRM_PORT", "LINECRM_EMULATOR_PORT", "LINECRM_MOTO_PORT", "LINECRM_SHOP_PORT"]
)
def test_a_port_in_use_is_a_one_line_error(ports: dict[str, int], busy: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        ports[busy] = holder.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "linecrm_local.dev"],
            cwd=REPO,
            env=dev_env(**ports),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert completed.returncode == 1
    errors = [line for line in completed.stderr.splitlines() if "linecrm dev:" in line]
    assert len(errors) == 1
    assert f"port {ports[busy]}" in errors[0]
    assert "in use" in errors[0]
    assert "Traceback" not in completed.stderr


def test_a_malformed_port_is_a_clear_error(ports: dict[str, int]) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "linecrm_local.dev"],
        cwd=REPO,
        env=dev_env(**{**ports, "LINECRM_PORT": "eighty"}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert completed.returncode == 1
    assert "LINECRM_PORT='eighty' is not a port number" in completed.stderr
