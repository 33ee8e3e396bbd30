"""ml detector: the active models of the registry judge every batch.

For each active model (``netwarden model activate``), the events it can judge are scored; those at or
above the model's threshold become one finding per source and model, whose confidence is the highest
score (a probability for supervised models, the calibrated "more unusual than X% of normal traffic" for
unsupervised ones) and whose factors are the explanation of the strongest event: the features that pushed
its score, with their values. The alert records the model and version that raised it.

Every model's scored and flagged events are counted per hour (``netwarden.learn.live``) and kept in the
detector's saved state, so ``model show`` and the model lab see the live alert rate drift from the calibrated
one. The detector reads the registry through the pipeline (``bind``); it checks for activations and
deactivations every ``reload_every`` seconds, so activating a model needs no restart. A model that fails to
load or to score is logged and skipped: it never stops ingest or the other detectors.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.learn.base import NORMAL, Model
from netwarden.learn.live import LiveCounts
from netwarden.records import Event, Factor, Finding, Severity

if TYPE_CHECKING:
    import numpy as np  # imported when a model judges: an ingest without active models never loads it

log = logging.getLogger(__name__)
HIGH_SCORE = 0.95


@register
class MlDetector(Detector):
    name = "ml"
    description = "the active machine-learning models (netwarden model activate)"

    class Settings(DetectorSettings):
        reload_every: float = 30.0  # seconds between checks of the registry for (de)activated models
        explain_top: int = 5  # features named on an alert
        high_score: float = HIGH_SCORE  # a score at or above this makes the alert high severity

    def __init__(self, settings: DetectorSettings | dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.registry: Any = None
        self.models: list[tuple[Any, Model]] = []  # (registry record, loaded model)
        self._loaded_at = -float("inf")
        self._loaded_digests: set[str] = set()
        self.model_failures: Counter[str] = Counter()  # batches each model failed on (shown after an ingest)
        self.live = LiveCounts()  # per model and hour: events scored, events flagged

    def state(self) -> dict[str, Any]:
        return {"live": self.live.to_state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.live = LiveCounts.from_state(state.get("live"))

    def bind(self, db: Any, settings: Any) -> None:
        """Called by the pipeline: where the registry is (netwarden.config.Settings)."""
        from netwarden.learn.registry import open_registry

        self.registry = open_registry(db, settings)

    def use(self, registry: Any) -> None:
        """Read models from this registry (tests, tools)."""
        self.registry = registry
        self._loaded_at = -float("inf")

    def _refresh(self) -> None:
        now = time.monotonic()
        if self.registry is None or now - self._loaded_at < self.settings.reload_every:  # type: ignore[attr-defined]
            return
        self._loaded_at = now
        try:
            active = self.registry.active()
        except Exception:
            log.exception("ml detector: cannot read the model registry")
            return
        current = {r.id: (r, m) for r, m in self.models}
        models = []
        for record in active:
            kept = current.get(record.id)
            if kept is not None and kept[0].digest == record.digest:
                kept[1].threshold = record.threshold  # an administrator may have moved it
                models.append((record, kept[1]))
                continue
            try:
                models.append((record, self.registry.load(record)))
            except Exception:
                log.exception("ml detector: model %s cannot be loaded; skipped", record.ref)
        self.models = models

    def active_models(self) -> list[tuple[Any, Model]]:
        """(record, model) of every active model, reloaded at most every ``reload_every`` seconds (other
        detectors use it too: web_attack weighs its signatures with the request models)."""
        self._refresh()
        return list(self.models)

    def process(self, events: Sequence[Event]) -> list[Finding]:
        self._refresh()
        findings: list[Finding] = []
        for record, model in self.models:
            try:
                findings += self._judge(record, model, events)
            except Exception as exc:  # one model's failure must not stop the others, nor pass unnoticed
                self.model_failures[record.ref] += 1
                if self.model_failures[record.ref] == 1:
                    log.exception("ml detector: model %s failed on a batch; it raises no alerts until fixed "
                                  "(deactivate it: netwarden model deactivate %s)", record.ref, record.ref)
                else:
                    log.debug("ml detector: model %s failed again: %s", record.ref, exc)
        return findings

    def _judge(self, record: Any, model: Model, events: Sequence[Event]) -> list[Finding]:
        import numpy as np

        usable = np.flatnonzero(model.applicable(events))
        if not len(usable):
            return []
        batch = [events[i] for i in usable]
        # sequence models carry each source's last events across batches (live streams cut small ones)
        scores = getattr(model, "score_stream", model.score)(batch)
        flagged = scores >= model.threshold
        self.live.add(record.ref, batch, flagged)
        hits = np.flatnonzero(flagged)
        if not len(hits):
            return []
        labels = model.predict([batch[i] for i in hits]) if model.task == "category" else None
        by_source: dict[tuple[str | None, str], list[int]] = defaultdict(list)
        for n, i in enumerate(hits):
            label = labels[n] if labels is not None and labels[n] != NORMAL else \
                ("anomaly" if model.family == "unsupervised" else "attack")
            by_source[(batch[i].src_ip, label)].append(int(i))
        findings = []
        for (source, label), members in by_source.items():
            strongest = max(members, key=lambda i: scores[i])
            findings.append(self._finding(record, model, source, label, [batch[i] for i in members],
                                          batch[strongest], float(scores[strongest])))
        return findings

    def _finding(self, record: Any, model: Model, source: str | None, label: str, members: list[Event],
                 strongest: Event, score: float) -> Finding:
        top = self.settings.explain_top  # type: ignore[attr-defined]
        # host-window features are computed over the events given: explain the event among its source's
        # events (all of a flagged window's events are flagged together), not alone
        context = members if model.params.get("view") == "host" else [strongest]
        explanation = model.explain(context, top)[next(i for i, e in enumerate(context) if e is strongest)]
        factors = [Factor("model", score, f"model {record.ref} ({model.algorithm}): {score_words(model)} {score:.3f} "
                                          f"≥ threshold {model.threshold:.3f}")]
        # the explanation rides along as zero-weight factors: it says why, without inflating confidence
        if getattr(model, "words", False):  # explanations that are sentences ("PUT never used on this path")
            factors += [Factor(f"finding:{c.feature}", 0.0, f"{c.value} (surprise {c.contribution:.2f})")
                        for c in explanation]
        else:
            factors += [Factor(f"feature:{c.feature}", 0.0, f"{c.feature}={c.to_dict()['value']} "
                                                            f"({c.contribution:+.3f})") for c in explanation]
        times = [e.timestamp for e in members if e.timestamp is not None]
        now = datetime.now(UTC)
        high = score >= self.settings.high_score  # type: ignore[attr-defined]
        return self.finding(
            kind="ml", subkind=label[:64], severity=Severity.HIGH if high else Severity.MEDIUM, factors=factors,
            recommendation=f"Model {record.ref} judged {len(members)} event(s) from this source as {label}; "
                           "look at the events and the features named, and mark a false positive if it is normal "
                           "traffic (retrain or raise the threshold if it keeps happening).",
            first_seen=min(times, default=now), last_seen=max(times, default=now), events=members,
            source=source, target=strongest.dst_ip, count=len(members), signature=f"{record.name}:{label}"[:255],
            evidence={"model": record.ref, "model_version": record.ref, "algorithm": model.algorithm,
                      "score": round(score, 6), "threshold": model.threshold, "label": label,
                      "explanation": [c.to_dict() for c in explanation]})


def score_words(model: Model) -> str:
    """What a model's score is, as an alert says it."""
    return model.score_name or ("anomaly score" if model.family == "unsupervised" else "probability of an attack")
