"""Lint and type checks run as part of the test suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True
    )


def test_ruff_lint_clean():
    result = run_tool("ruff", "check", "geocarbon", "tests", "cli.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean():
    result = run_tool("ruff", "format", "--check", "geocarbon", "tests", "cli.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean():
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
