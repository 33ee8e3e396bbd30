"""The ``[respond]`` settings section.

Example::

    [respond]
    mode = "enforce"                  # default "dry-run": decide and record, touch no firewall
    backend = "nftables"              # a registered backend: nftables, iptables, routeros, command, webhook
    threshold = 0.80                  # confidence that blocks automatically
    thresholds = { port_scan = 0.95 } # per alert kind
    gateways = ["192.0.2.1"]
    dns_servers = ["192.0.2.53"]
    admin_addresses = ["198.51.100.10"]
    never_block = ["203.0.113.0/24"]
    durations = ["10m", "1h", "1d"]   # first, second, third and later block of the same offender
    history_after = "15m"             # older evidence is history: alerted, never blocked or notified
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from netwarden.durations import parse_duration
from netwarden.settings_base import DurationText, Section

def _networks(value: list[str]) -> list[str]:
    for net in value:
        try:
            ipaddress.ip_network(net.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{net!r} is not an address or network (e.g. 192.0.2.1 or 10.0.0.0/8)") from None
    return value


class NftablesSettings(Section):
    table: str = Field("netwarden", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
    hooks: list[str] = Field(default_factory=lambda: ["input", "forward"])
    command: str = "nft"

    @field_validator("hooks")
    @classmethod
    def _hooks(cls, value: list[str]) -> list[str]:
        for hook in value:
            if hook not in ("input", "forward"):
                raise ValueError(f"hook {hook!r}: use input and/or forward")
        return value


class IptablesSettings(Section):
    set_name: str = Field("netwarden", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,24}$")  # sets <name>4 and <name>6
    chains: list[str] = Field(default_factory=lambda: ["INPUT", "FORWARD"])
    ipv6: bool = True


class RouterOSSettings(Section):
    host: str = ""
    port: int = Field(8728, ge=1, le=65535)  # 8729 with tls = true
    username: str = "netwarden"
    password: str = ""
    tls: bool = False
    ca_file: str = ""  # to verify the router's certificate; empty: the system's
    verify: bool = True
    list_name: str = Field("netwarden", pattern=r"^[A-Za-z0-9_.-]{1,63}$")
    timeout: float = Field(5.0, gt=0, le=60)


class CommandSettings(Section):
    # argument lists, run without a shell; {address} {seconds} {reason} are replaced per block
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    # optional: prints the blocked networks, one a line; then a start removes entries no block stands for
    entries: list[str] = Field(default_factory=list)
    timeout: float = Field(10.0, gt=0, le=300)


class WebhookBackendSettings(Section):
    url: str = ""  # POST {"action": "block"|"unblock", "address", "seconds", "reason", "block_id"}
    timeout: float = Field(5.0, gt=0, le=60)
    headers: dict[str, str] = Field(default_factory=dict)


def _backends() -> dict[str, Any]:
    from netwarden.respond.firewall.base import BACKENDS  # late: the backends' modules import this package

    return BACKENDS.all()


class RespondSettings(Section):
    """Blocking: mode, thresholds, never-block list, backends, expiry.

    ``backend`` is any registered backend (netwarden.respond.firewall). The built-in backends' sections are
    fields below; a backend added later brings its own ``Settings`` and its ``[respond.<name>]`` section is
    checked with that, so a new backend is one new module, with no edit here.
    """

    mode: str = Field("dry-run", pattern=r"^(dry-run|enforce)$")
    backend: str = "nftables"
    auto_block: bool = True  # false: every block waits for a person
    threshold: float = Field(0.80, ge=0, le=1)
    thresholds: dict[str, float] = Field(default_factory=dict)  # per alert kind
    # never blocked, automatically or by hand
    protect_home: bool = True  # the [network] home networks
    protect_private: bool = True  # RFC 1918, CGNAT 100.64/10, fc00::/7
    gateways: list[str] = Field(default_factory=list)
    dns_servers: list[str] = Field(default_factory=list)
    admin_addresses: list[str] = Field(default_factory=list)
    never_block: list[str] = Field(default_factory=list)
    ipv6_prefix: int = Field(64, ge=32, le=128)  # IPv6 offenders are blocked by this prefix
    durations: list[DurationText] = Field(default_factory=lambda: ["10m", "1h", "1d"])
    history: DurationText = "30d"  # earlier blocks within this time count for escalation
    # evidence older than this when detected (an import of old logs) raises alerts marked "history" and
    # never blocks or notifies
    history_after: DurationText = "15m"
    max_auto_blocks: int = Field(1000, ge=1)  # active automatic blocks at most
    sweep_every: float = Field(15.0, gt=0, le=3600)  # seconds between expiry sweeps
    netns: str = Field("", pattern=r"^[A-Za-z0-9_.-]{0,64}$")  # run nft/ipset/iptables in this network namespace
    nftables: NftablesSettings = NftablesSettings()
    iptables: IptablesSettings = IptablesSettings()
    routeros: RouterOSSettings = RouterOSSettings()
    command: CommandSettings = CommandSettings()
    webhook: WebhookBackendSettings = WebhookBackendSettings()
    # the sections of backends added as modules, by backend name (filled by _backend_sections)
    backend_sections: dict[str, Any] = Field(default_factory=dict)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        known = _backends()
        if value not in known:
            raise ValueError(f"unknown firewall backend {value!r}; known: {', '.join(known)}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _backend_sections(cls, data: Any) -> Any:
        """Type the ``[respond.<name>]`` sections of registered backends that are not fields below."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        given = dict(data.pop("backend_sections", None) or {})  # what model_dump wrote
        sections: dict[str, Section] = {}
        for name, backend in _backends().items():
            if name in cls.model_fields or backend.Settings is None:
                continue
            value = data.pop(name, None) or given.get(name) or {}
            try:
                sections[name] = backend.Settings.model_validate(value)
            except ValidationError as exc:
                raise ValueError("; ".join(f"respond.{name}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                           for e in exc.errors())) from None
        data["backend_sections"] = sections
        return data  # any other unknown key is refused as usual (extra="forbid")

    def section(self, backend: str) -> Section | None:
        """The ``[respond.<backend>]`` settings, for a built-in backend and a registered one alike."""
        if backend in type(self).model_fields:
            value = getattr(self, backend)
            return value if isinstance(value, Section) else None
        return self.backend_sections.get(backend)

    @field_validator("gateways", "dns_servers", "admin_addresses", "never_block")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        return _networks(value)

    @field_validator("durations")
    @classmethod
    def _valid_durations(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one duration, e.g. [\"10m\", \"1h\", \"1d\"]")
        return value

    @field_validator("thresholds")
    @classmethod
    def _valid_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        for kind, t in value.items():
            if not 0 <= t <= 1:
                raise ValueError(f"thresholds.{kind} = {t}: a confidence between 0 and 1")
        return value

    def threshold_for(self, kind: str) -> float:
        return self.thresholds.get(kind, self.threshold)

    def duration_steps(self) -> list[timedelta]:
        return [parse_duration(d) for d in self.durations]
