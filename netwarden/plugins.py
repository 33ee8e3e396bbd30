"""One registration idiom for every kind of plug-in: a :class:`Registry` per kind, filled by a decorator.

A kind (parsers, detectors, firewall backends, ...) owns one package and one registry::

    DETECTORS: Registry[type[Detector]] = Registry("detector", "netwarden.detect")

    @DETECTORS.register                      # in netwarden/detect/telnet.py: the whole plug-in
    class Telnet(Detector):
        name = "telnet"
        ...

Discovery is one rule for every kind: the first look-up imports every module of the kind's package,
except private modules (a name starting with ``_``), which are helpers. So adding a plug-in is one new
module in that package (plus its test); no list, no deny-list, no other file to edit. A module of the
package must therefore import without optional dependencies (PyTorch and the like load lazily).
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownPlugin(LookupError):
    """No plug-in of that kind has that name; the message lists the known ones."""


class Registry(Generic[T]):
    """Plug-ins of one kind by name, found by importing the modules of ``package``.

    ``key`` is the attribute that names a plug-in (``name`` for most kinds); ``required`` are the attributes
    a plug-in must set, checked when it registers so a mistake shows at import, not at first use.
    """

    def __init__(self, kind: str, package: str, *, key: str = "name", required: tuple[str, ...] = ("name",),
                 error: type[Exception] = UnknownPlugin, check: Callable[[T], None] | None = None) -> None:
        self.kind = kind
        self.package = package
        self.key = key
        self.required = required
        self.error = error
        self.check = check
        #: name -> plug-in, in registration order (the same dict for the life of the process)
        self.entries: dict[str, T] = {}
        self._loaded = False
        self._lock = threading.RLock()

    # -- registering --------------------------------------------------------------------------------

    def register(self, plugin: T) -> T:
        """Decorator: make ``plugin`` (a class, or a module for report kinds) findable by its name."""
        label = getattr(plugin, "__qualname__", getattr(plugin, "__name__", repr(plugin)))
        for attr in self.required:
            if not getattr(plugin, attr, None):
                raise TypeError(f"{self.kind} {label} must set {attr}")
        if self.check is not None:
            self.check(plugin)
        name = str(getattr(plugin, self.key))
        if name in self.entries and self.entries[name] is not plugin:
            raise TypeError(f"two {self.kind}s are named {name!r}")
        self.entries[name] = plugin
        return plugin

    # -- finding --------------------------------------------------------------------------------------

    def load(self) -> None:
        """Import every public module of the package, once (what fills the registry)."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            package = importlib.import_module(self.package)
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
                if not info.name.startswith("_") and not info.ispkg:
                    importlib.import_module(f"{self.package}.{info.name}")
            self._loaded = True

    def all(self) -> dict[str, T]:
        """Every plug-in of this kind by name, sorted."""
        self.load()
        return dict(sorted(self.entries.items()))

    def names(self) -> list[str]:
        return list(self.all())

    def get(self, name: str) -> T:
        """The plug-in named ``name``; ``self.error`` naming the known ones when there is none."""
        self.load()
        try:
            return self.entries[name]
        except KeyError:
            raise self.error(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self.entries))}") from None

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self.all())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.package!r}: {len(self.entries)} registered)"


def every_registry() -> dict[str, Registry[Any]]:
    """Each kind's registry by kind name: what the docs and the contract tests walk."""
    from netwarden.detect.base import DETECTORS
    from netwarden.learn.base import MODELS
    from netwarden.notify.channels import CHANNELS
    from netwarden.parse._messages import MESSAGE_PARSERS
    from netwarden.parse.base import PARSERS
    from netwarden.report.exporters import EXPORTERS
    from netwarden.report.kinds import REPORTS
    from netwarden.respond.firewall.base import BACKENDS

    return {r.kind: r for r in (PARSERS, MESSAGE_PARSERS, DETECTORS, BACKENDS, MODELS, REPORTS, CHANNELS,
                                 EXPORTERS)}
