"""Response as a listener of alerts: the responder (blocks) and the notifier hear of each batch's alerts.

``Pipeline.from_settings`` builds it, so ingest, follow, listen and serve all respond the same way. It owns
nothing in detection: the pipeline hands it the alerts a batch created or changed (``on_alerts``), and its
responder answers the pipeline's evidence filter (``refuses``, ``any_enforced``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netwarden.records import Alert
from netwarden.respond.responder import Responder

if TYPE_CHECKING:
    from netwarden.config import Settings
    from netwarden.notify.notifier import Notifier
    from netwarden.store.database import Database

log = logging.getLogger(__name__)


@dataclass
class Response:
    responder: Responder
    notifier: Notifier | None  # when any notification channel is configured

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, *,
                      sweep_gate: Callable[[], bool] | None = None) -> Response:
        """The responder started (store and firewall reconciled, expiry running) and the notifier.
        ``sweep_gate``: with a [bus], whether this process is the one that expires blocks (Responder)."""
        responder = Responder.from_settings(db, settings, sweep_gate=sweep_gate)
        notifier = None
        if settings.notify.enabled:
            from netwarden.notify.notifier import Notifier

            notifier = Notifier(settings.notify)
            responder.listeners.append(notifier.on_block)
        responder.start()
        return cls(responder, notifier)

    def on_alerts(self, changes: Sequence[tuple[Alert, bool]]) -> None:
        """One batch's new and updated alerts, in the order detection made them: notify each, then decide the
        batch's blocks (in the same order, with a few queries for the whole batch: see ``respond.batch``)."""
        if self.notifier is not None:
            for alert, is_new in changes:
                try:
                    self.notifier.on_alert(alert, is_new)
                except Exception:  # one alert's failure must not cost the others their response
                    log.exception("alert listener failed")
        try:
            self.responder.on_alerts([alert for alert, _ in changes])
        except Exception:
            log.exception("alert listener failed")

    def close(self) -> None:
        self.responder.close()
        if self.notifier is not None:
            self.notifier.close()
