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


def test_benchmark_phases_name_functions_that_exist():
    """A phase renamed or moved by a refactor would read 0 s in the benchmarks' profiles."""
    import importlib

    folder = str(REPO_ROOT / "benchmarks")
    sys.path.insert(0, folder)
    try:
        for name in ("run", "zonal_peers"):
            module = importlib.import_module(name)
            for phases in ("PHASES", "CHANGE_PHASES"):
                if hasattr(module, phases):
                    module.check_phases(getattr(module, phases))
    finally:
        sys.path.remove(folder)
        for name in ("run", "zonal_peers"):
            sys.modules.pop(name, None)


def test_no_module_is_over_400_lines():
    """The layout's rule (ARCHITECTURE.md): a module past ~400 lines is split by concern."""
    long = {
        str(path.relative_to(REPO_ROOT)): n
        for path in (REPO_ROOT / "geocarbon").rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not long, long


def test_every_public_name_imports_from_geocarbon():
    """The layout moved modules; the public API stays where users import it."""
    import geocarbon

    names = {
        "run_stock", "run_zonal", "run_change", "zonal_stocks", "stock_change", "StockConfig",
        "ZonalConfig", "ChangeConfig", "CarbonTable", "load_density_table", "MonteCarlo",
        "Valuation", "GeoCarbonError", "GeoCarbonWarning", "ConfigError",
    }  # fmt: skip
    assert names <= set(geocarbon.__all__)
    for name in geocarbon.__all__:
        assert getattr(geocarbon, name) is not None, name
