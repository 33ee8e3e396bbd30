"""Listing the algorithms (`netwarden model algorithms`) and the web Models page load no machine-learning
library: PyTorch, scikit-learn and SciPy are imported when a model is trained or used, not before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = "\nimport sys; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sklearn', 'scipy', 'skops'}))"


def _run(code: str, cwd: Path) -> str:
    r = subprocess.run([sys.executable, "-c", code + HEAVY], cwd=cwd, capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[-1]


def test_model_algorithms_imports_no_ml_library(tmp_path: Path) -> None:
    last = _run("import sys; sys.argv = ['netwarden', 'model', 'algorithms']\nfrom netwarden.cli import main\n"
                "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code", tmp_path)
    assert last == "[]"


def test_the_models_page_imports_no_ml_library(tmp_path: Path) -> None:
    last = _run("from netwarden.store.database import Database\nfrom tests.web.conftest import Web\n"
                f"web = Web(Database.open('sqlite:///{tmp_path / 'w.db'}'))\n"
                "page = web.client('analyst').get('/models')\n"
                "assert page.status_code == 200 and 'random_forest' in page.text and 'lstm' in page.text\n"
                "web.close()", tmp_path)
    assert last == "[]"
