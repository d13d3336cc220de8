"""Builds the shared Lambda layer without Docker.

pip downloads the Lambda architecture's manylinux wheels (``--only-binary=:all:`` so
nothing is compiled for the wrong platform), pinned by ``constraints.txt`` so the layer
holds exactly the versions the tests run; then the ``linecrm`` package is copied in.

Last, the runtime's Python (3.13) compiles the layer's bytecode: ``/opt`` is read-only
in Lambda, so a layer without ``.pyc`` files is compiled from source on every cold
start. ``--invalidation-mode unchecked-hash`` makes the files valid whatever the
sources' timestamps become in the zip. The interpreter is ``$LINECRM_LAYER_PYTHON``,
``python3.13`` on the PATH, or pyenv's; without one the layer ships without bytecode
and the build says so.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from linecrm_infra import constants

_LAYER_PACKAGE = "linecrm"
_IGNORED_PACKAGE_FILES = ("__pycache__", "*.pyc")
LAYER_PYTHON_ENV = "LINECRM_LAYER_PYTHON"
LAYER_MOUNT = "/opt/python"  # where Lambda puts the layer's python/ (for tracebacks)
# Python 2 halves of py2/py3 module pairs (aenum's ``_py2.py``): never imported on 3.x
# and not valid Python 3, so not compiled. Any other file that fails stops the build.
_NOT_PYTHON3 = r"[/\\]_py2\.py$"


class NoBytecodeWarning(UserWarning):
    """The runtime's Python is missing here: the layer is built without bytecode."""


@dataclass(frozen=True)
class RuntimePython:
    """An interpreter of the Lambda runtime's minor version (it compiles the bytecode)."""

    executable: str
    version: str  # e.g. "3.13.0"


def _interpreter_version(executable: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - an interpreter path we looked up
            [executable, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@functools.cache
def find_runtime_python(version: str = constants.LAYER_PYTHON_VERSION) -> RuntimePython | None:
    """``$LINECRM_LAYER_PYTHON``, ``python<version>`` on the PATH, or pyenv's; or None."""
    candidates = [os.environ.get(LAYER_PYTHON_ENV, ""), shutil.which(f"python{version}") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += sorted(
        (str(path) for path in pyenv_root.glob(f"versions/{version}*/bin/python{version}")),
        reverse=True,
    )
    for candidate in filter(None, candidates):
        found = _interpreter_version(candidate)
        if found is not None and found.split(".")[:2] == version.split("."):
            return RuntimePython(candidate, found)
    return None


def compile_command(site_dir: Path, python: RuntimePython) -> list[str]:
    return [
        python.executable,
        # Old escape sequences in dependencies' sources: their noise, not our failure.
        "-W",
        "ignore::SyntaxWarning",
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-x",
        _NOT_PYTHON3,
        # Tracebacks in Lambda name the files where they are, not the build directory.
        "-d",
        LAYER_MOUNT,
        str(site_dir),
    ]


def _distribution_name(requirement: str) -> str:
    """``aws-lambda-powertools[tracer]>=3`` -> ``aws_lambda_powertools`` (PEP 503-ish)."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "_", match.group(0)).lower()


def runtime_requirements(
    pyproject: Path = constants.PYPROJECT,
    provided: tuple[str, ...] = constants.RUNTIME_PROVIDED_DISTRIBUTIONS,
) -> tuple[str, ...]:
    """The project's runtime dependencies, minus those the Lambda runtime provides."""
    dependencies: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    excluded = {_distribution_name(name) for name in provided}
    return tuple(dep for dep in dependencies if _distribution_name(dep) not in excluded)


@dataclass(frozen=True)
class LayerBuildSpec:
    """Everything the layer's content depends on (and so its asset hash)."""

    requirements: tuple[str, ...] = field(default_factory=runtime_requirements)
    constraints_file: Path = constants.CONSTRAINTS
    package_dir: Path = constants.LAYER_SOURCE_DIR / _LAYER_PACKAGE
    python_version: str = constants.LAYER_PYTHON_VERSION
    platforms: tuple[str, ...] = constants.LAYER_PLATFORMS
    pruned_distributions: tuple[str, ...] = constants.RUNTIME_PROVIDED_DISTRIBUTIONS
    bytecode: bool = True  # compile with the runtime's Python if this machine has it

    def runtime_python(self) -> RuntimePython | None:
        return find_runtime_python(self.python_version) if self.bytecode else None

    def pip_install_command(self, target: Path, python: str = sys.executable) -> list[str]:
        platform_args = [arg for platform in self.platforms for arg in ("--platform", platform)]
        return [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            # .pyc compiled by the build interpreter would not match the runtime's Python.
            "--no-compile",
            *platform_args,
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            "--only-binary=:all:",
            "--target",
            str(target),
            "-c",
            str(self.constraints_file),
            *self.requirements,
        ]

    def asset_hash(self) -> str:
        """Changes whenever the layer's content would: pins, platform or package code."""
        digest = hashlib.sha256()
        for part in (
            *self.requirements,
            self.python_version,
            *self.platforms,
            *self.pruned_distributions,
        ):
            digest.update(part.encode() + b"\0")
        # Bytecode or not (and which interpreter's) is part of the content.
        python = self.runtime_python()
        digest.update(f"bytecode={python.version if python else 'none'}".encode() + b"\0")
        digest.update(self.constraints_file.read_bytes())
        # This module decides how the layer is built: a change to it rebuilds the layer.
        digest.update(Path(__file__).read_bytes())
        for path in sorted(self.package_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(path.relative_to(self.package_dir).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
        return digest.hexdigest()


def prune_distribution(site_dir: Path, name: str) -> bool:
    """Delete an installed distribution's files (listed in its RECORD) from ``site_dir``."""
    wanted = _distribution_name(name)
    removed = False
    for dist_info in site_dir.glob("*.dist-info"):
        if (
            _distribution_name(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0])
            != wanted
        ):
            continue
        for line in (dist_info / "RECORD").read_text().splitlines():
            relative = line.split(",", 1)[0]
            path = (site_dir / relative).resolve()
            if path.is_relative_to(site_dir.resolve()) and path.is_file():
                path.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
        removed = True
    for directory in sorted(site_dir.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    return removed


def build_layer(spec: LayerBuildSpec, output_dir: Path) -> None:
    """Fill ``output_dir`` with the layer's ``python/`` directory."""
    site_dir = output_dir / "python"
    subprocess.run(spec.pip_install_command(site_dir), check=True)  # noqa: S603
    for name in spec.pruned_distributions:
        prune_distribution(site_dir, name)
    # Console scripts carry the build machine's interpreter path; useless in Lambda.
    shutil.rmtree(site_dir / "bin", ignore_errors=True)
    shutil.copytree(
        spec.package_dir,
        site_dir / spec.package_dir.name,
        ignore=shutil.ignore_patterns(*_IGNORED_PACKAGE_FILES),
    )
    if not spec.bytecode:
        return
    python = spec.runtime_python()
    if python is None:
        message = (
            f"python{spec.python_version} (the Lambda runtime's) was not found: the layer "
            "ships without bytecode, so every cold start compiles it. Install it (e.g. "
            f"`pyenv install {spec.python_version}`) or set {LAYER_PYTHON_ENV}."
        )
        print(f"linecrm layer: WARNING: {message}", file=sys.stderr)
        warnings.warn(message, NoBytecodeWarning, stacklevel=2)
        return
    subprocess.run(compile_command(site_dir, python), check=True)  # noqa: S603


@jsii.implements(cdk.ILocalBundling)
class LocalLayerBundler:
    """CDK's local bundling hook: runs before (and instead of) Docker bundling."""

    def __init__(self, spec: LayerBuildSpec) -> None:
        self._spec = spec

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        build_layer(self._spec, Path(output_dir))
        return True


def layer_code(spec: LayerBuildSpec | None = None) -> lambda_.Code:
    spec = spec or LayerBuildSpec()
    return lambda_.Code.from_asset(
        str(constants.LAYER_SOURCE_DIR),
        asset_hash=spec.asset_hash(),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            # Never pulled: the local bundler always succeeds, Docker is not needed.
            image=cdk.DockerImage.from_registry("scratch"),
            local=LocalLayerBundler(spec),
        ),
    )
