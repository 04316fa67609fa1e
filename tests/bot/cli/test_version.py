"""`codexbot --version`: the version pyproject.toml gives, as installed, and the one the
changelog describes last."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli

ROOT = Path(__file__).resolve().parents[3]
SEMANTIC_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]["version"]


def test_the_project_has_a_semantic_version_and_the_installed_one_is_it():
    assert SEMANTIC_VERSION.match(project_version())
    # Stale metadata means an install older than pyproject.toml: `make` reinstalls.
    assert version("codexbot") == project_version()


def test_version_option_prints_the_installed_version_without_touching_settings():
    # A config file that does not exist would fail any command that reads settings.
    result = CliRunner().invoke(
        cli, ["--config", "/nonexistent/codexbot.toml", "--version"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"codexbot, version {project_version()}\n"


def test_the_installed_command_answers_version():
    codexbot = Path(sys.executable).parent / "codexbot"
    result = subprocess.run(
        [str(codexbot), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"codexbot, version {project_version()}\n"
    assert result.stderr == ""


def test_the_changelog_describes_this_version_first():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+)\b", changelog, re.MULTILINE)
    assert versions[0] == project_version()
    # Newest first, each once.
    as_numbers = [tuple(int(part) for part in v.split(".")) for v in versions]
    assert as_numbers == sorted(set(as_numbers), reverse=True)
