"""Why a block is refused or an older one kept: the exceptions the responder raises (the web app and the
command line turn them into a clear answer), and the rules about overlapping blocks they rest on."""

from __future__ import annotations

from datetime import datetime

from netwarden.networks import Network, display
from netwarden.store.blocks import Block


class BlockRefused(ValueError):
    """A block that must not happen; the message says why (never-block list, cap, already blocked ...).

    ``lasting``: the same alert will be refused again (never-block list), so it is not tried again; a cap
    that is reached may have room later.
    """

    def __init__(self, message: str, *, lasting: bool = True, cause: str = "refused") -> None:
        super().__init__(message)
        self.lasting = lasting
        self.cause = cause  # short, for counts: "never-block list", "block cap", "refused"


class WideBlockNeedsForce(BlockRefused):
    """A manual block of a network wider than /24 (IPv4) or /48 (IPv6): one typo could cut off a whole
    provider, so it needs an explicit confirmation (``--force``, ``force: true``, the web app's confirm)."""


class LongerBlockKept(BlockRefused):
    """A block asked for while a longer one of the same network (or inside it) is active: the longer one
    stays, nothing changes. ``kept`` are those longer blocks."""

    def __init__(self, message: str, kept: list[Block]) -> None:
        super().__init__(message)
        self.kept = kept


class Capped(Exception):
    """The cap of active automatic blocks is reached (raised inside the decision's transaction)."""


WIDEST_WITHOUT_FORCE = {4: 24, 6: 48}  # prefix lengths a manual block may have without confirmation


def covering(active: dict[str, tuple[Network, Block]], net: Network) -> Block | None:
    """The block in ``active`` (network text → (network, block)) that covers ``net``."""
    hit = active.get(str(net))
    if hit is not None:
        return hit[1]
    if len(active) > net.prefixlen:
        # under attack there are hundreds of blocks: look up each wider network (at most 32 or 128
        # lookups) instead of testing every block (a thousand supernet tests per alert)
        for prefix in range(net.prefixlen - 1, -1, -1):
            hit = active.get(str(net.supernet(new_prefix=prefix)))
            if hit is not None:
                return hit[1]
        return None
    for other, block in list(active.values()):
        if other.version == net.version and other.supernet_of(net):
            return block
    return None


def outlasts(expires: datetime | None, than: datetime | None) -> bool:
    """Does a block ending at ``expires`` (None: permanent) last longer than one ending at ``than``?"""
    if than is None:
        return False
    return expires is None or expires > than


def kept_message(net: Network, longer: list[Block], expires: datetime | None) -> str:
    kept = "; ".join(f"block #{b.id} of {b.network} until "
                     f"{b.expires.strftime('%Y-%m-%d %H:%M:%S UTC') if b.expires else 'removed by hand'}"
                     for b in longer[:3])
    asked = expires.strftime('%Y-%m-%d %H:%M:%S UTC') if expires else "removed by hand"
    return (f"not changed: {kept} lasts longer than the block of {display(net)} asked for (until {asked}) "
            "and stays; unblock it first or ask for a longer block")
