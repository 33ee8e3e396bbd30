"""Adding a log format, a detector, a firewall backend or a model family is one new module, as
docs/architecture.md says: each test puts one module into the kind's package (a folder added to the package's
``__path__``, as a new file beside the others would be) and checks that what uses that kind finds it by name,
with no other file edited. The detector and the backend are the worked examples of the architecture page,
taken from it, so the page's code is checked too."""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from netwarden.plugins import Registry
from netwarden.records import Event

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def doc_example(title: str) -> str:
    """The python block that follows ``title`` in docs/architecture.md."""
    text = DOC.read_text()
    found = re.search(re.escape(title) + r".*?```python\n(.*?)```", text, re.S)
    assert found, f"docs/architecture.md has no example after {title!r}"
    return found.group(1)


@contextmanager
def new_module(package_name: str, registry: Registry[Any], source: str, tmp_path: Path) -> Iterator[None]:
    """``source`` as a new public module of ``package_name``, found by the registry's ordinary discovery."""
    registry.load()  # the plug-ins already there
    before = set(registry.entries)
    package = importlib.import_module(package_name)
    parent_name, _, last = package_name.rpartition(".")
    folder = tmp_path / "added" / last
    if isinstance(package.__path__, list):  # a regular package: one more folder of it
        extended = package
    else:  # a namespace package (netwarden.detect): its path is computed from its parent's
        extended = importlib.import_module(parent_name)
    folder.mkdir(parents=True)
    (folder / "zz_added.py").write_text(textwrap.dedent(source))
    saved = list(extended.__path__)
    extended.__path__.append(str(folder if extended is package else folder.parent))
    registry._loaded = False  # as in a new process: the first look-up imports the package's modules
    try:
        yield
    finally:
        extended.__path__[:] = saved
        sys.modules.pop(f"{package_name}.zz_added", None)
        for name in set(registry.entries) - before:
            del registry.entries[name]
        registry._loaded = True


def test_a_log_format_is_one_module(tmp_path: Path) -> None:
    from netwarden.parse import PARSERS, ParseContext, get_parser, guess_format
    from netwarden.pipeline import Pipeline
    from netwarden.store.database import Database

    source = '''
        from datetime import datetime, timezone
        from netwarden.parse.base import Parser, ParseError, register
        from netwarden.records import Event

        @register
        class KvDemo(Parser):
            name = "kvdemo"
            description = "kvdemo lines: kvdemo TIME src=A dst=B port=N"
            example = "kvdemo 2025-01-01T00:00:00Z src=192.0.2.1 dst=10.0.0.5 port=23"
            source_kind = "firewall"

            @classmethod
            def sniff(cls, lines):
                return sum(line.startswith("kvdemo ") for line in lines) / max(len(lines), 1)

            def parse_line(self, line):
                head, _, rest = line.partition(" ")
                if head != "kvdemo":
                    raise ParseError("not a kvdemo line")
                when, *pairs = rest.split()
                fields = dict(p.split("=", 1) for p in pairs if "=" in p)
                try:
                    return Event(timestamp=datetime.fromisoformat(when.replace("Z", "+00:00")),
                                 source_kind=self.source_kind,
                                 src_ip=fields["src"], dst_ip=fields["dst"], dst_port=int(fields["port"]),
                                 transport="tcp", raw=line)
                except (KeyError, ValueError) as exc:
                    raise ParseError(f"bad kvdemo line: {exc}") from None
    '''
    log = tmp_path / "firewall.log"
    log.write_text("".join(f"kvdemo 2025-01-01T00:00:{i:02d}Z src=192.0.2.{i + 1} dst=10.0.0.5 port=23\n"
                           for i in range(5)) + "kvdemo broken\n")
    with new_module("netwarden.parse", PARSERS, source, tmp_path):
        assert "kvdemo" in PARSERS.names()
        assert get_parser("kvdemo")(ParseContext()).parse_line(log.read_text().splitlines()[0]).dst_port == 23
        assert guess_format(log.read_text().splitlines()).name == "kvdemo"  # sniffing asks every format
        db = Database.open(f"sqlite:///{tmp_path / 'kv.db'}")
        try:
            result = Pipeline(db).ingest_file(log)  # recognised by itself, stored, the bad line quarantined
        finally:
            db.close()
        assert (result.format, result.events, sum(result.quarantined.values())) == ("kvdemo", 5, 1)
    assert "kvdemo" not in PARSERS.names()


def test_a_detector_is_one_module(tmp_path: Path) -> None:
    from netwarden.check import check_event
    from netwarden.config import Settings
    from netwarden.detect.base import DETECTORS, SettingsError
    from netwarden.detect.engine import DetectionEngine
    from netwarden.enrich.assets import Assets

    when = datetime(2025, 1, 1, tzinfo=timezone.utc)
    outside = Event(timestamp=when, source_kind="firewall", src_ip="198.51.100.7", dst_ip="10.0.0.5", dst_port=23,
                    transport="tcp")
    inside = Event(timestamp=when, source_kind="firewall", src_ip="10.0.0.9", dst_ip="10.0.0.5", dst_port=23,
                   transport="tcp")
    with new_module("netwarden.detect", DETECTORS, doc_example("A detector, `netwarden/detect/telnet.py`"),
                    tmp_path):
        assert "telnet" in DETECTORS.names()
        engine = DetectionEngine.from_config({"telnet": {"ports": [23]}}, assets=Assets(["10.0.0.0/8"]),
                                             only=["telnet"])
        alerts = engine.process([outside, inside])
        assert [(a.detector, a.source) for a in alerts] == [("telnet", "198.51.100.7")]
        with pytest.raises(SettingsError, match=r"\[detect.telnet\]"):  # its section is typed by its Settings
            DetectionEngine.from_config({"telnet": {"ports": "not ports"}}, only=["telnet"])
        settings = Settings.model_validate({"network": {"home": ["10.0.0.0/8"]}})
        reasons = check_event(outside, settings).reasons  # `netwarden check` asks it too
        assert any(r.source == "detector:telnet" for r in reasons)
    assert "telnet" not in DETECTORS.names()


def test_a_firewall_backend_is_one_module(tmp_path: Path) -> None:
    from netwarden.respond.firewall.base import BACKENDS, FirewallError, create
    from netwarden.respond.settings import RespondSettings

    with new_module("netwarden.respond.firewall", BACKENDS,
                    doc_example("A firewall backend, `netwarden/respond/firewall/pf.py`"), tmp_path):
        settings = RespondSettings.model_validate({"backend": "pf", "pf": {"table": "bad_hosts"}})
        firewall = create(settings)  # `[respond] backend = "pf"` and its `[respond.pf]` section
        assert type(firewall).name == "pf" and firewall.table == "bad_hosts"  # type: ignore[attr-defined]
        with pytest.raises(FirewallError, match="not a validated network"):  # checked before pfctl runs
            firewall.add("192.0.2.1; rm -rf /", 60)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="table"):
            RespondSettings.model_validate({"backend": "pf", "pf": {"table": ["not", "a", "name"]}})
    assert "pf" not in BACKENDS.names()
    with pytest.raises(ValueError, match="unknown firewall backend 'pf'"):
        RespondSettings.model_validate({"backend": "pf"})


def test_a_model_family_is_one_module(tmp_path: Path) -> None:
    from netwarden.learn.base import MODELS, algorithms, create

    source = '''
        from netwarden.learn.base import register_algorithm
        from netwarden.learn.unsupervised import IsolationForestModel

        @register_algorithm
        class WideForest(IsolationForestModel):
            algorithm = "wide_forest"
            description = "an isolation forest of more trees (a family added as one module)"
            default_params = {**IsolationForestModel.default_params, "n_estimators": 300}
    '''
    with new_module("netwarden.learn", MODELS, source, tmp_path):
        assert "wide_forest" in algorithms()
        model = create("wide_forest", seed=3)  # what `netwarden model train --algorithm wide_forest` does
        assert type(model).__name__ == "WideForest" and model.params["n_estimators"] == 300
    assert "wide_forest" not in algorithms()
