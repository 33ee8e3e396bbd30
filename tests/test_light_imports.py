"""Listing the algorithms (`netwarden model algorithms`) and the web Models page load no machine-learning
library: PyTorch, scikit-learn and SciPy are imported when a model is trained or used, not before. A command
imports its own module only, not the web application's or the reports' libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = "\nimport sys; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sklearn', 'scipy', 'skops'}))"


def _lines(code: str, cwd: Path) -> list[str]:
    r = subprocess.run([sys.executable, "-c", code + HEAVY], cwd=cwd, capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _run(code: str, cwd: Path) -> str:
    return _lines(code, cwd)[-1]


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


def test_events_csv_imports_only_its_own_command(tmp_path: Path) -> None:
    code = (f"import sys; sys.argv = ['netwarden', '--db', 'sqlite:///{tmp_path / 'e.db'}', 'events', '--csv']\n"
            "from netwarden.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(sorted(m for m in sys.modules if m.startswith('netwarden.commands.')\n"
            "             and not m.startswith('netwarden.commands.shared')))\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', 'uvicorn', 'jinja2',\n"
            "             'weasyprint', 'matplotlib', 'numpy', 'redis', 'nats'}))")
    lines = _lines(code, tmp_path)
    assert lines[0].startswith("id,timestamp,")  # the CSV header: the command ran (and the store is empty)
    assert lines[1:] == ["['netwarden.commands.events']", "[]", "[]"]  # the last: no ML library either
