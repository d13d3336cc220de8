"""The layer bundler, without the network: pip is replaced by a fake that writes what
pip would (packages with RECORD files, console scripts)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from linecrm_infra import bundling, constants
from linecrm_infra.bundling import LayerBuildSpec, LocalLayerBundler

pytestmark = pytest.mark.infra


def _pins(constraints: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in constraints.read_text().splitlines():
        name, _, version = line.partition("==")
        if version:
            pins[re.sub(r"[-_.]+", "_", name).lower()] = version
    return pins


def _fake_distribution(site_dir: Path, name: str, files: Sequence[str]) -> None:
    dist_info = site_dir / f"{name}-1.0.0.dist-info"
    dist_info.mkdir(parents=True)
    for relative in files:
        path = site_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    record = [f"{relative},sha256=abc,1" for relative in files]
    record.append(f"{dist_info.name}/RECORD,,")
    (dist_info / "RECORD").write_text("\n".join(record))


def _fake_package_dir(root: Path) -> Path:
    package = root / "linecrm"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "resources.py").write_text("APP_NAME = 'linecrm'\n")
    (package / "__pycache__" / "resources.cpython-311.pyc").write_bytes(b"\0")
    return package


def test_runtime_requirements_exclude_what_lambda_provides() -> None:
    requirements = bundling.runtime_requirements()
    names = [re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in requirements]  # type: ignore[union-attr]
    # pillow: the admin function draws rich menu images (linecrm.richmenus.images).
    # PyJWT + cryptography: /liff/login verifies ES256 ID tokens against LINE's JWKS.
    # PyJWT + cryptography: auto-login URLs are ES256 JWTs (linecrm.shop_login).
    # pillow: the admin function draws rich menu images (linecrm.richmenus.images);
    # segno: it draws inflow routes' QR codes (linecrm.inflow.qr).
    assert names == [
        "aws-lambda-powertools",
        "line-bot-sdk",
        "pydantic",
        "tzdata",
        "google-re2",
        "pillow",
        "PyJWT",
        "cryptography",
        "segno",
    ]
    assert "PyJWT[crypto]>=2.10,<3" in requirements
    assert any("[tracer]" in requirement for requirement in requirements)


def test_runtime_requirements_come_from_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["boto3>=1", "BotoCore", "pydantic>=2"]\n'
    )
    assert bundling.runtime_requirements(pyproject, provided=("boto3", "botocore")) == (
        "pydantic>=2",
    )


def test_every_layer_dependency_is_pinned_by_the_constraints() -> None:
    pins = _pins(constants.CONSTRAINTS)
    for requirement in bundling.runtime_requirements():
        name = re.sub(r"[-_.]+", "_", re.split(r"[\[<>=!~ ]", requirement)[0]).lower()
        assert name in pins, requirement


def test_pip_command_targets_the_lambda_platform(tmp_path: Path) -> None:
    spec = LayerBuildSpec()
    command = spec.pip_install_command(tmp_path / "python")
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    joined = " ".join(command)
    assert "--platform manylinux2014_aarch64" in joined
    assert "--implementation cp" in joined
    assert "--python-version 3.13" in joined
    assert "--only-binary=:all:" in command
    assert "--no-compile" in command
    assert f"--target {tmp_path / 'python'}" in joined
    assert f"-c {constants.CONSTRAINTS}" in joined
    assert command[-len(spec.requirements) :] == list(spec.requirements)
    assert not [arg for arg in command if arg.startswith(("boto3", "botocore"))]


def test_prune_removes_only_the_named_distribution(tmp_path: Path) -> None:
    _fake_distribution(tmp_path, "botocore", ["botocore/__init__.py", "botocore/data/x.json"])
    _fake_distribution(tmp_path, "jmespath", ["jmespath/__init__.py", "bin/jp.py"])
    assert bundling.prune_distribution(tmp_path, "botocore")
    assert not (tmp_path / "botocore").exists()
    assert not list(tmp_path.glob("botocore-*.dist-info"))
    assert (tmp_path / "jmespath" / "__init__.py").exists()
    assert (tmp_path / "bin" / "jp.py").exists()
    assert not bundling.prune_distribution(tmp_path, "boto3")


def test_build_layer_installs_prunes_and_copies_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = LayerBuildSpec(package_dir=_fake_package_dir(tmp_path / "src"), bytecode=False)
    commands: list[list[str]] = []

    def fake_pip(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        assert kwargs["check"] is True
        site_dir = Path(command[command.index("--target") + 1])
        _fake_distribution(site_dir, "pydantic", ["pydantic/__init__.py"])
        _fake_distribution(site_dir, "botocore", ["botocore/__init__.py"])
        _fake_distribution(site_dir, "jmespath", ["jmespath/__init__.py", "bin/jp.py"])
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(bundling.subprocess, "run", fake_pip)
    output = tmp_path / "out"
    assert LocalLayerBundler(spec).try_bundle(
        str(output), image=cdk.DockerImage.from_registry("scratch")
    )
    assert commands == [spec.pip_install_command(output / "python")]
    site_dir = output / "python"
    assert (site_dir / "pydantic" / "__init__.py").exists()
    assert (site_dir / "jmespath" / "__init__.py").exists()
    assert not (site_dir / "botocore").exists()
    assert not (site_dir / "bin").exists()
    assert (site_dir / "linecrm" / "resources.py").exists()
    assert not list(site_dir.rglob("__pycache__"))


def test_asset_hash_follows_the_layer_inputs(tmp_path: Path) -> None:
    package = _fake_package_dir(tmp_path)
    spec = LayerBuildSpec(package_dir=package)
    first = spec.asset_hash()
    (package / "__pycache__" / "other.cpython-311.pyc").write_bytes(b"\1")
    assert spec.asset_hash() == first
    (package / "resources.py").write_text("APP_NAME = 'changed'\n")
    assert spec.asset_hash() != first
    assert LayerBuildSpec(package_dir=package, python_version="3.12").asset_hash() != (
        spec.asset_hash()
    )


RUNTIME_PYTHON = bundling.find_runtime_python()


def _fake_pip_then_real(
    monkeypatch: pytest.MonkeyPatch,
) -> list[list[str]]:
    """pip is faked (no network); every other command (compileall) really runs."""
    real_run = subprocess.run
    commands: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> Any:
        commands.append(command)
        if command[1:3] == ["-m", "pip"]:
            site_dir = Path(command[command.index("--target") + 1])
            _fake_distribution(site_dir, "pydantic", ["pydantic/__init__.py"])
            (site_dir / "pydantic" / "__init__.py").write_text("VERSION = '2'\n")
            return subprocess.CompletedProcess(command, 0)
        return real_run(command, **kwargs)

    monkeypatch.setattr(bundling.subprocess, "run", run)
    return commands


@pytest.mark.skipif(RUNTIME_PYTHON is None, reason="no python3.13 on this machine")
def test_the_layer_ships_unchecked_bytecode_of_the_runtimes_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert RUNTIME_PYTHON is not None
    spec = LayerBuildSpec(package_dir=_fake_package_dir(tmp_path / "src"))
    commands = _fake_pip_then_real(monkeypatch)

    bundling.build_layer(spec, tmp_path / "out")

    assert commands[-1] == bundling.compile_command(tmp_path / "out" / "python", RUNTIME_PYTHON)
    site_dir = tmp_path / "out" / "python"
    for module in ("linecrm/resources", "pydantic/__init__"):
        folder, name = module.rsplit("/", 1)
        (pyc,) = (site_dir / folder / "__pycache__").glob(f"{name}.cpython-313.pyc")
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b01  # hash-based, source not checked: valid whatever the mtimes
    # The copied package brought no bytecode of the build machine's Python.
    assert not list(site_dir.rglob("*.cpython-311.pyc"))


def test_without_the_runtimes_python_the_layer_ships_source_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = LayerBuildSpec(package_dir=_fake_package_dir(tmp_path / "src"))
    monkeypatch.setattr(LayerBuildSpec, "runtime_python", lambda _self: None)
    commands = _fake_pip_then_real(monkeypatch)

    with pytest.warns(bundling.NoBytecodeWarning, match="python3.13"):
        bundling.build_layer(spec, tmp_path / "out")

    assert len(commands) == 1  # pip only
    assert (tmp_path / "out" / "python" / "linecrm" / "resources.py").exists()
    assert not list((tmp_path / "out").rglob("*.pyc"))
    assert "without bytecode" in capsys.readouterr().err


def test_the_runtime_python_is_found_from_the_variable_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundling.find_runtime_python.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.setenv(bundling.LAYER_PYTHON_ENV, sys.executable)
    try:
        found = bundling.find_runtime_python(here)
        assert found is not None and found.executable == sys.executable
        # The variable names an interpreter of another version: not taken.
        assert bundling.find_runtime_python("3.99") is None
        monkeypatch.setenv(bundling.LAYER_PYTHON_ENV, str(tmp_path / "missing"))
        bundling.find_runtime_python.cache_clear()  # (it is looked up once per process)
        assert bundling.find_runtime_python(here) is None
    finally:
        bundling.find_runtime_python.cache_clear()


def test_bytecode_or_not_is_part_of_the_asset_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = LayerBuildSpec(package_dir=_fake_package_dir(tmp_path))
    monkeypatch.setattr(LayerBuildSpec, "runtime_python", lambda _self: None)
    without = spec.asset_hash()
    found = bundling.RuntimePython("/usr/bin/python3.13", "3.13.0")
    monkeypatch.setattr(LayerBuildSpec, "runtime_python", lambda _self: found)
    assert spec.asset_hash() != without
