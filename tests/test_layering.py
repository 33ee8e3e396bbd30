"""Imports point one way: each top-level folder or module of netwarden/ is a layer (docs/architecture.md, "The
flow" and "The folders"), and a layer imports only the layers below it. The graph is read with `ast`, so imports
inside functions and under TYPE_CHECKING count too: a late import hides a dependency, it does not remove it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "netwarden"

#: lowest first; a layer may import its own layer and the ones before it. The first row is the foundation:
#: records, helpers and the plug-in registry class, which import nothing above it.
LAYERS: tuple[frozenset[str], ...] = tuple(frozenset(row.split()) for row in (
    "records text settings_base plugins metrics durations networks endpoints useragent check_columns",
    "parse",
    "store",
    "enrich",
    "learn",
    "detect",
    "rules",
    "check",
    "notify",
    "config",           # the settings root: each folder's section, with the defaults enrich declares
    "respond",
    "accounts",
    "report",
    "collect",          # readers and listeners; they hand what they read to collect/sink.py's protocols
    "simulate",
    "corpus",
    "pipeline",
    "evaluate",
    "backtest",
    "bus",              # headless workers: they publish the live feed in pipeline.live's shapes, not web's
    "web",
    "serve",
    "commands",
    "cli",
))

#: Declared interfaces that point up, as (importing module, imported module prefix). Keep this short: an entry
#: needs a reason a reader accepts, not "it was there".
ALLOWED: tuple[tuple[str, str], ...] = (
    # plugins.every_registry() lists every kind's registry for the docs and the contract tests; the Registry
    # class itself, which every kind imports, is foundation
    ("netwarden.plugins", "netwarden."),
)


def layer_of(module: str) -> int:
    """The row of LAYERS that ``netwarden.<top>...`` belongs to."""
    top = module.split(".")[1]
    for rank, row in enumerate(LAYERS):
        if top in row:
            return rank
    raise LookupError(f"{module}: {top!r} is in no layer of tests/test_layering.py; add it where it belongs")


def is_section(module: str) -> bool:
    """A folder's settings section (``netwarden.<folder>.settings``): config assembles them all."""
    parts = module.split(".")
    return len(parts) == 3 and parts[2] == "settings"


def imports(path: Path, module: str, is_package: bool) -> Iterator[tuple[str, str]]:
    """What each import statement in ``path`` reaches (anywhere in the file), as (name, else): for ``from X import
    a``, ``X.a`` if that is a module, else ``X``; module_graph decides, knowing every module."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [(alias.name, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [(f"{base}.{a.name}", base) for a in node.names]
        else:
            continue
        yield from (pair for pair in names if pair[0].startswith("netwarden."))


def module_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the netwarden modules it imports (the package root ``netwarden`` itself left out)."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        found[module] = set(imports(path, module, is_package))
    return {m: {name if name in found else other for name, other in pairs} - {"netwarden", m}
            for m, pairs in found.items()}


def upward(graph: dict[str, set[str]]) -> list[str]:
    """The imports that go up a layer, as ``importer -> imported`` lines."""
    found = []
    for importer, targets in sorted(graph.items()):
        if importer == "netwarden":
            continue
        for target in sorted(targets):
            if layer_of(target) <= layer_of(importer):
                continue
            if any(importer == who and target.startswith(what) for who, what in ALLOWED):
                continue
            if importer == "netwarden.config" and is_section(target):
                continue
            found.append(f"{importer} -> {target}")
    return found


def section_leaks(graph: dict[str, set[str]]) -> list[str]:
    """A settings section that config imports must itself stay in the foundation (or its own folder), or config
    would reach up through it."""
    leaks = []
    for importer, targets in graph.items():
        if is_section(importer):
            own = importer.split(".")[1]
            leaks += [f"{importer} -> {t}" for t in targets if layer_of(t) != 0 and t.split(".")[1] != own]
    return leaks


def test_no_import_goes_up_a_layer() -> None:
    graph = module_graph()
    assert len(graph) > 200, "the walk found too few modules"
    assert upward(graph) == []


def test_settings_sections_import_only_the_foundation() -> None:
    assert section_leaks(module_graph()) == []


def test_every_top_level_module_has_a_layer() -> None:
    tops = {p.stem for p in PACKAGE.iterdir() if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
            or (p.is_dir() and any(p.glob("*.py")))}
    assert tops - set().union(*LAYERS) == set()


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    """A synthetic netwarden/ whose store imports respond, in the three spellings, and a section that reaches up."""
    root = tmp_path / "netwarden"
    _write(root, {
        "__init__.py": "",
        "records.py": "",
        "store/__init__.py": "",
        "store/blocks.py": "from netwarden.records import *\n",         # down: fine
        "store/hosts.py": "def f():\n    from netwarden.respond.responder import Responder\n",
        "store/events.py": "import netwarden.report.export\n",
        "store/rollups.py": "from .. import respond\n",
        "respond/__init__.py": "",
        "respond/responder.py": "from netwarden.store.blocks import x\nfrom . import settings\n",
        "respond/settings.py": "from netwarden.detect import engine\n",
        "config.py": "from netwarden.respond.settings import RespondSettings\nfrom netwarden.web import app\n",
    })
    graph = module_graph(root)
    assert graph["netwarden.store.rollups"] == {"netwarden.respond"}
    assert graph["netwarden.respond.responder"] == {"netwarden.store.blocks", "netwarden.respond.settings"}
    assert upward(graph) == [
        "netwarden.config -> netwarden.web",                  # a section is allowed, the rest of web is not
        "netwarden.store.events -> netwarden.report.export",
        "netwarden.store.hosts -> netwarden.respond.responder",
        "netwarden.store.rollups -> netwarden.respond",
    ]
    assert section_leaks(graph) == ["netwarden.respond.settings -> netwarden.detect"]


def test_a_folder_missing_from_the_layers_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "netwarden"
    _write(root, {"__init__.py": "", "records.py": "from netwarden.gadgets import x\n"})
    with pytest.raises(LookupError, match="gadgets"):
        upward(module_graph(root))
