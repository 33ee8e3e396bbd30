"""Wiring response into a pipeline: the responder and the notifier listen to the detection engine.

``Pipeline.from_settings`` calls ``attach``, so ingest, listen and serve all respond the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from netwarden.respond.evidence import EvidenceFilter
from netwarden.respond.responder import Responder

log = logging.getLogger(__name__)


@dataclass
class Response:
    responder: Responder
    notifier: object | None  # netwarden.notify.notifier.Notifier when any channel is configured
    stage: EvidenceFilter  # the detection stage, with refused traffic of blocked sources withheld

    def close(self) -> None:
        self.responder.close()
        if self.notifier is not None:
            self.notifier.close()  # type: ignore[attr-defined]


def attach(engine, db, settings) -> Response:  # type: ignore[no-untyped-def]
    responder = Responder.from_settings(db, settings)
    notifier = None
    if settings.notify.enabled:
        from netwarden.notify.notifier import Notifier

        notifier = Notifier(settings.notify)
        engine.listeners.append(notifier.on_alert)
        responder.listeners.append(notifier.on_block)
    engine.listeners.append(responder.on_alert)
    responder.start()
    return Response(responder, notifier, EvidenceFilter(engine, responder.refuses, responder.any_enforced))
