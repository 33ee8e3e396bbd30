"""The README's two commands in a clone anywhere: the datasets fixture, ``scripts/setup`` and ``./start``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET_TEST = "tests/detect/test_ids.py::test_suricata_alerts_are_merged_per_source"


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "NETWARDEN_REQUIRE_DATASETS"}
    environment.update(NETWARDEN_DATASETS=str(tmp_path / "missing"), PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-rs", "-q",
                           DATASET_TEST], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)


def test_without_the_datasets_their_tests_skip_and_say_how_to_get_them(tmp_path: Path) -> None:
    r = _pytest(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 skipped" in r.stdout and "error" not in r.stdout.lower()
    skip = next(line for line in r.stdout.splitlines() if line.startswith("SKIPPED"))
    assert str(tmp_path / "missing") in skip and "NETWARDEN_DATASETS" in skip and "../shared/datasets" in skip


def test_ci_requires_the_datasets(tmp_path: Path) -> None:
    r = _pytest(tmp_path, NETWARDEN_REQUIRE_DATASETS="1")
    assert r.returncode != 0 and "1 error" in r.stdout, r.stdout + r.stderr
    assert "NETWARDEN_REQUIRE_DATASETS" in r.stdout
    assert "NETWARDEN_REQUIRE_DATASETS=1" in (REPO / ".ci" / "run").read_text()
