"""Firewall backends, one module each, registered by name (see ``base.Firewall``)."""

from netwarden.respond.firewall.base import REGISTRY, Firewall, FirewallError, create

__all__ = ["REGISTRY", "Firewall", "FirewallError", "create"]
