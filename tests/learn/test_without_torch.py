"""The core (ingest, detect, alerts, the web app) runs without PyTorch, the optional "sequence" extra; the
sequence models then say how to enable themselves. PyTorch is hidden by a meta-path hook in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
# refuses every import of torch, and notes the attempt on stderr
NO_TORCH = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            sys.stderr.write(f"[torch import attempted: {name}]\\n")
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoTorch())
"""


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run(f"import sys; sys.argv = ['netwarden', *{args!r}]\nfrom netwarden.cli import main; main()", cwd)


def test_ingest_detect_and_alerts_run_without_torch(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'n.db'}"
    r = _cli(["--db", db, "ingest", str(EXAMPLES / "auth.log"), str(EXAMPLES / "access.log"),
              str(EXAMPLES / "firewall.log")], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "torch import attempted" not in r.stderr and "alert" in r.stdout
    r = _cli(["--db", db, "alerts", "--json"], tmp_path)
    assert r.returncode == 0 and r.stdout.strip() and "torch import attempted" not in r.stderr, r.stderr


def test_the_models_page_says_how_to_enable_the_sequence_models(tmp_path: Path) -> None:
    r = _run("from netwarden.store.database import Database\nfrom tests.web.conftest import Web\n"
             f"web = Web(Database.open('sqlite:///{tmp_path / 'w.db'}'))\n"
             "page = web.client('analyst').get('/models')\nweb.close()\n"
             "print(page.status_code, 'lstm (sequence, not installed)' in page.text, "
             "\"pip install 'netwarden[sequence]'\" in page.text.replace('&#39;', \"'\"), 'torch' in sys.modules)",
             tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["200", "True", "True", "False"], r.stdout


def test_the_sequence_models_say_how_to_enable_themselves(tmp_path: Path) -> None:
    r = _cli(["--db", f"sqlite:///{tmp_path / 'n.db'}", "model", "train", "-a", "lstm", "--data",
              str(EXAMPLES / "access.log")], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "need PyTorch" in r.stderr and "pip install 'netwarden[sequence]'" in r.stderr
    r = _cli(["model", "algorithms"], tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if line.strip()}
    for name in ("rnn", "lstm", "gru"):
        assert "not installed" in rows[name]
    assert "not installed" not in rows["random_forest"]
    assert r.stdout.count("pip install 'netwarden[sequence]'") == 1
