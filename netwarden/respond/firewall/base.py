"""The contract every firewall backend fulfils.

A backend is a small class in its own module of this package with a ``name``; it registers itself with
``@register`` and is found by that name (``[respond] backend``) without editing any other file. Its options
are the ``[respond.<name>]`` section, typed by the class's ``Settings`` (a ``Section``). It must:

- ``setup()``: create what it needs (a table, sets, the drop rule) idempotently;
- ``add(net, seconds, reason)``: drop traffic from ``net`` for ``seconds`` (None: until removed),
  *replacing* an existing entry's timeout; ``reason`` is for backends that pass it on (command, webhook). Where the firewall can expire entries by itself (nftables, ipset, RouterOS)
  the timeout goes with the entry, so a block ends on time even when NetWarden is down;
- ``remove(net)``: stop dropping ``net``; removing what is not there is not an error;
- ``entries()``: the networks it currently drops (display form, see networks.display), or None
  when the firewall cannot be asked (command, webhook).

Addresses reach a backend as validated ``ipaddress`` networks only (``add`` and ``remove`` of every subclass
are wrapped to refuse anything else), and commands are argument lists run without a shell. Any failure raises FirewallError with a message for the administrator.
"""

from __future__ import annotations

import functools
import ipaddress
import subprocess
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from netwarden.networks import Network
from netwarden.plugins import Registry
from netwarden.settings_base import Section

if TYPE_CHECKING:
    from netwarden.respond.settings import RespondSettings


class FirewallError(RuntimeError):
    """A firewall refused or could not be reached; the message says which and why."""


class Firewall:
    name: ClassVar[str] = ""
    expires_by_itself: ClassVar[bool] = True
    #: the type of the ``[respond.<name>]`` section (None: the backend has no options)
    Settings: ClassVar[type[Section] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method in ("add", "remove"):
            if method in cls.__dict__:
                setattr(cls, method, _validated(cls.__dict__[method]))

    @classmethod
    def from_settings(cls, respond: RespondSettings, *, netns: str | None = None) -> Firewall:
        """The backend configured by ``respond`` (RespondSettings); by default its section's fields are the
        constructor's keywords."""
        section = respond.section(cls.name)
        return cls(**(section.model_dump() if section is not None else {}))

    def setup(self) -> None:
        """Create the table/sets/rules this backend needs (idempotent)."""

    def add(self, net: Network, seconds: float | None, reason: str = "") -> None:
        raise NotImplementedError

    def remove(self, net: Network) -> None:
        raise NotImplementedError

    def entries(self) -> set[str] | None:
        return None

    def close(self) -> None:
        """Release connections."""


class HostFirewall(Firewall):
    """A backend that runs programs on this host (nft; ipset and iptables; the administrator's command): its
    section's fields and the network namespace to run them in (``[respond] netns``) are its constructor's
    keywords."""

    netns: str | None

    @classmethod
    def from_settings(cls, respond: RespondSettings, *, netns: str | None = None) -> Firewall:
        section = respond.section(cls.name)
        return cls(**(section.model_dump() if section is not None else {}), netns=netns)


def _validated(method: Callable[..., None]) -> Callable[..., None]:
    """``method`` refusing anything but an ``ipaddress`` network before it reaches a firewall or a command."""

    @functools.wraps(method)
    def checked(self: Firewall, net: Network, *args: Any, **kwargs: Any) -> None:
        if not isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            raise FirewallError(f"{self.name}: {str(net)[:80]!r} is not a validated network "
                                "(netwarden.networks.block_target makes one)")
        return method(self, net, *args, **kwargs)

    return checked


class UnknownBackend(FirewallError, LookupError):
    """No backend has that name."""


#: every firewall backend: the public modules of netwarden.respond.firewall (see netwarden.plugins)
BACKENDS: Registry[type[Firewall]] = Registry("firewall backend", "netwarden.respond.firewall", error=UnknownBackend)
REGISTRY = BACKENDS.entries
register = BACKENDS.register  # class decorator: make a backend available by its ``name``


def load_backends() -> dict[str, type[Firewall]]:
    return BACKENDS.all()


def create(respond_settings: RespondSettings, *, netns: str | None = None) -> Firewall:
    """The configured backend; ``netns`` runs command-line backends inside that network namespace."""
    cls = BACKENDS.get(respond_settings.backend)
    return cls.from_settings(respond_settings, netns=netns)


def run(argv: Sequence[str], *, stdin: str | None = None, timeout: float = 10.0, netns: str | None = None,
        ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """Run a command (no shell); FirewallError with its message when it fails."""
    full = (["ip", "netns", "exec", netns] if netns else []) + list(argv)
    try:
        proc = subprocess.run(full, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise FirewallError(f"{argv[0]} is not installed (apt-get install {argv[0]})") from None
    except subprocess.TimeoutExpired:
        raise FirewallError(f"{argv[0]} did not finish within {timeout:g} s") from None
    if proc.returncode not in ok_codes:
        message = (proc.stderr or proc.stdout).strip().splitlines()
        raise FirewallError(f"{' '.join(argv[:3])}: {message[-1] if message else f'exit code {proc.returncode}'}")
    return proc


def human_seconds(seconds: float) -> str:
    """RouterOS-style ``1d2h3m4s``."""
    left = max(1, round(seconds))
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts)
