"""The one registration idiom (netwarden.plugins.Registry) and every kind that uses it."""

from __future__ import annotations

import sys
import types

import pytest

from netwarden.plugins import Registry, UnknownPlugin, every_registry


@pytest.mark.parametrize("kind", sorted(every_registry()))
def test_every_kind_finds_its_plugins_and_names_them_when_asked_wrong(kind: str) -> None:
    registry = every_registry()[kind]
    names = registry.names()
    assert names and names == sorted(names)
    for name in names:
        assert str(getattr(registry.get(name), registry.key)) == name
    with pytest.raises(Exception, match=f"no-such-{kind.replace(' ', '-')}") as caught:
        registry.get(f"no-such-{kind.replace(' ', '-')}")
    assert names[0] in str(caught.value)  # the message lists what is known


def test_register_checks_names_and_refuses_two_with_one_name(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    package = tmp_path / "nwplugs_example"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_helper.py").write_text("raise RuntimeError('a private helper is never imported by discovery')\n")
    (package / "first.py").write_text("from nwplugs_registry import R\n\n@R.register\nclass A:\n    name = 'a'\n")
    (package / "second.py").write_text("from nwplugs_registry import R\n\n@R.register\nclass B:\n    name = 'b'\n")
    registry: Registry[type] = Registry("example", "nwplugs_example", required=("name",))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "nwplugs_registry", types.SimpleNamespace(R=registry))
    assert registry.names() == ["a", "b"] and "b" in registry and len(registry) == 2
    with pytest.raises(UnknownPlugin, match="unknown example 'c'; known: a, b"):
        registry.get("c")
    with pytest.raises(TypeError, match="must set name"):
        registry.register(type("Nameless", (), {}))
    with pytest.raises(TypeError, match="two examples are named 'a'"):
        registry.register(type("Other", (), {"name": "a"}))
    for module in ("nwplugs_example", "nwplugs_example.first", "nwplugs_example.second"):
        sys.modules.pop(module, None)
