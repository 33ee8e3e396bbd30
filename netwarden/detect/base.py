"""The detector contract: one small class per detector, registered by name.

A detector looks at batches of events and reports :class:`~netwarden.records.Finding` objects. It
keeps whatever sliding-window state it needs keyed by an entity (usually the source address), with
bounded memory (see ``windows``), and it reads time from the events, never from the wall clock, so
replaying last week's log finds last week's attacks. Writing one::

    @register                             # in its own module netwarden/detect/telnet.py
    class TelnetFromOutside(Detector):
        name = "telnet"
        description = "telnet reached from the internet"

        class Settings(DetectorSettings):
            ports: tuple[int, ...] = (23, 2323)

        def process(self, events):
            return [self.finding(...) for e in events if e.dst_port in self.settings.ports]

Settings are typed (pydantic) and come from the ``[detect.<name>]`` section of the configuration; a
wrong key or value is a clear error naming the detector. ``state()``/``restore()`` let a restart resume
an ongoing scan; ``prune(now)`` drops idle state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from netwarden.enrich.assets import DEFAULT as DEFAULT_ASSETS
from netwarden.enrich.assets import Assets
from netwarden.plugins import Registry
from netwarden.records import Event, Factor, Finding, Severity


class DetectorSettings(BaseModel):
    """Base of every detector's settings. ``enabled`` turns a detector off."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True


class SettingsError(ValueError):
    pass


class Detector(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    Settings: ClassVar[type[DetectorSettings]] = DetectorSettings
    #: how far an attack has gone when this detector's kind (its name) fires: 1 reconnaissance, 2 access
    #: attempts, 3 data leaving; an incident spanning two stages escalates (None: engine.STAGE, else 1)
    stage: ClassVar[int | None] = None

    def __init__(self, settings: DetectorSettings | dict[str, Any] | None = None, *,
                 keep_events: bool = False, assets: Assets | None = None) -> None:
        if settings is None or isinstance(settings, dict):
            try:
                settings = self.Settings.model_validate(settings or {})
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise SettingsError(f"[detect.{self.name}] {problems}") from None
        self.settings = settings
        self.keep_events = keep_events  # evaluation: findings list every event that contributed
        self.assets = assets or DEFAULT_ASSETS  # which addresses are ours (inside) and which the internet

    @abstractmethod
    def process(self, events: Sequence[Event]) -> list[Finding]:
        """Look at one batch (in arrival order) and report what is suspicious so far."""

    def state(self) -> dict[str, Any]:
        """JSON-ready state to resume after a restart (default: none)."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Load what :meth:`state` returned (possibly by an older version: be tolerant)."""

    def prune(self, now: datetime) -> None:
        """Forget state that has been idle too long (the engine calls this with event time)."""

    def state_counts(self) -> dict[str, int]:
        """Keys held now in this detector's bounded tables, and those let go: ``evicted`` when a table was full (a
        flood of addresses: what they did is forgotten, which an administrator should know), ``expired`` when
        idle. Empty for a detector without such tables."""
        from netwarden.detect.windows import KeyedState

        tables = [v for v in vars(self).values() if isinstance(v, KeyedState)]
        if not tables:
            return {}
        return {"sources": sum(len(t) for t in tables), "evicted": sum(t.evicted for t in tables),
                "expired": sum(t.expired for t in tables)}

    def finding(self, *, kind: str, severity: Severity, factors: list[Factor], recommendation: str,
                first_seen: datetime, last_seen: datetime, events: Sequence[Event] = (), **kw: Any) -> Finding:
        """A Finding with this detector's name, a few sample events, and all events when evaluating."""
        return Finding(kind=kind, detector=self.name, severity=severity, factors=factors,
                       recommendation=recommendation, first_seen=first_seen, last_seen=last_seen,
                       samples=list(events[:3]) if events else [],
                       events=list(events) if self.keep_events else [], **kw)


#: every detector: the public modules of netwarden.detect (see netwarden.plugins)
DETECTORS: Registry[type[Detector]] = Registry("detector", "netwarden.detect", error=SettingsError,
                                               required=("name", "description"))
REGISTRY = DETECTORS.entries
register = DETECTORS.register  # class decorator: make a detector available by its ``name``


class DetectorPart:
    """One half of a detector kept in a module of its own (its alert building, a second signal), mixed into
    the detector's class: it uses the detector's ``settings``, ``assets`` and ``finding``."""

    settings: Any
    assets: Assets

    if TYPE_CHECKING:  # the detector's; declared for the type checker only, or it would shadow it
        def finding(self, **kw: Any) -> Finding: ...
