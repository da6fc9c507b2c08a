"""GX's unused imports are deferred, and a deferred module is the real one as soon as it is used."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from wishflow.validation.deferred_imports import DeferredModule, defer, is_loaded


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package whose import is visible: each module appends its name to ``imported.txt``."""
    log = tmp_path / "imported.txt"
    package = tmp_path / "heavypkg"
    package.mkdir()
    record = "with open({log!r}, 'a') as log:\n    log.write(__name__ + '\\n')\n"
    (package / "__init__.py").write_text(record.format(log=str(log)))
    (package / "charts.py").write_text(record.format(log=str(log)) + "def chart():\n    return 'drawn'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield log
    for name in [m for m in sys.modules if m.split(".")[0] == "heavypkg"]:
        del sys.modules[name]


def _imported(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_a_deferred_module_is_imported_on_first_use_and_then_is_the_real_one(fake_package: Path) -> None:
    assert defer(("heavypkg.charts", "not_a_module_anywhere")) == ["heavypkg.charts"]
    # finding the submodule imports its package, never the submodule itself
    assert _imported(fake_package) == ["heavypkg"]
    assert isinstance(sys.modules["heavypkg.charts"], DeferredModule)
    assert not is_loaded("heavypkg.charts")

    from heavypkg import charts  # what GX does: ``from scipy import stats``

    assert _imported(fake_package) == ["heavypkg"]
    assert charts.chart() == "drawn"  # the first read imports the real module
    assert _imported(fake_package) == ["heavypkg", "heavypkg.charts"]
    assert is_loaded("heavypkg.charts")
    real = sys.modules["heavypkg.charts"]
    assert not isinstance(real, DeferredModule)
    assert sys.modules["heavypkg"].charts is real
    assert charts.chart is real.chart  # the stand-in now holds the real names
    assert charts.chart() == "drawn"
    assert _imported(fake_package) == ["heavypkg", "heavypkg.charts"]  # imported once


def test_a_module_already_imported_is_left_alone(fake_package: Path) -> None:
    import heavypkg.charts

    assert defer(("heavypkg.charts",)) == []
    assert sys.modules["heavypkg.charts"] is heavypkg.charts


def test_validation_runs_without_importing_what_gx_imports_for_expectations_we_do_not_use() -> None:
    """In a fresh interpreter: GX's runtime built and a batch validated, altair and scipy.stats unused."""
    script = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime
        from bench.bench_validation import synthetic_orders
        from wishflow.validation.deferred_imports import is_loaded
        from wishflow.validation.gx_runtime import gx_runtime
        from wishflow.validation.validate import validate_frame

        gx_runtime()
        now = datetime.now(UTC)
        outcome = validate_frame(synthetic_orders(2_000, now), now, None)
        assert outcome.failures, "the synthetic batch carries defects: validation ran"
        print(is_loaded("altair"), is_loaded("scipy.stats"), "scipy.stats" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["False", "False", "True"]
