"""Any other firewall, over HTTP: POST a JSON request for each block and unblock.

Body: ``{"action": "block"|"unblock", "address": "203.0.113.7/32", "seconds": 600|null, "reason": "..."}``; any 2xx answer is
success, anything else a FirewallError (the block is recorded as failed).
"""

from __future__ import annotations

from netwarden.networks import Network
from netwarden.respond.firewall.base import Firewall, FirewallError, register
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netwarden.respond.settings import RespondSettings


@register
class WebhookFirewall(Firewall):
    name = "webhook"
    expires_by_itself = False

    def __init__(self, url: str, *, timeout: float = 5.0, headers: dict[str, str] | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise FirewallError("[respond.webhook] url must be an http:// or https:// address")
        self.url, self.timeout, self.headers = url, timeout, dict(headers or {})

    @classmethod
    def from_settings(cls, respond: RespondSettings, *, netns: str | None = None) -> WebhookFirewall:
        s = respond.webhook
        return cls(s.url, timeout=s.timeout, headers=s.headers)

    def _post(self, body: dict) -> None:
        import httpx  # here: reading the settings finds every backend, and httpx is slow to import

        try:
            response = httpx.post(self.url, json=body, timeout=self.timeout, headers=self.headers)
        except httpx.HTTPError as exc:
            raise FirewallError(f"webhook {self.url}: {exc}") from None
        if not response.is_success:
            raise FirewallError(f"webhook {self.url}: HTTP {response.status_code}")

    def add(self, net: Network, seconds: float | None, reason: str = "") -> None:
        self._post({"action": "block", "address": str(net),
                    "seconds": None if seconds is None else max(1, round(seconds)), "reason": reason})

    def remove(self, net: Network) -> None:
        self._post({"action": "unblock", "address": str(net), "seconds": None, "reason": ""})
