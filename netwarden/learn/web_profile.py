"""A model of a site's normal HTTP requests: what each page is asked with, and what its parameters look like.

Learned from a period the administrator calls normal (or a file), per *path template* — ``/product/123``
and ``/product/77`` are both ``/product/{id}``; a directory with very many distinct names below it
(``/post/<slug>``) becomes ``/post/{name}``:

- the methods used on it, and the parameters (query string and form body together);
- per parameter: how long its values are, which characters they use, whether it is always a number (and
  its range), whether it takes only a few values (an enumeration), and which other parameters always
  come with it;
- a character-level model of the values: the character classes (``a`` lower case, ``A`` upper case,
  ``0`` digit, every other character itself) and which class *pairs* follow each other. ``' OR 1=1``
  in a name field shows quote, space and ``=`` next to letters where names never had them.

A request is scored by what it does that normal traffic never did, each finding worth its *surprise*
(about ``-log10`` of how likely such a novelty was in training: an unseen parameter on a page that always
had the same four weighs more than on a page with many). The findings are the explanation, in words a
person can check ("parameter `precioA` has never been seen on `/tienda1/publico/anadir.jsp`").

The sum of surprises is calibrated like the other anomaly models: a fifth of the normal data is held back,
and a request's score is the share of held-back normal requests that looked less unusual, so a threshold of
``1 - fpr`` flags about ``fpr`` of normal traffic. The calibration also records how sure that rate is (a
95 % Wilson interval from the number of held-back requests). Everything learned is plain JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from netwarden.learn.base import Contribution, Model, ModelError, Progress, register_algorithm
from netwarden.learn.evaluation import wilson
from netwarden.learn.request_profile import Profile, learn_profile
from netwarden.records import Event

CALIBRATION_SHARE = 0.2


@register_algorithm
class HttpProfile(Model):
    algorithm = "http_profile"
    family = "unsupervised"
    description = "Model of the site's normal HTTP requests: paths, methods, parameters and their values"
    supervised = False
    default_params: ClassVar[dict[str, Any]] = {"fpr": 0.01, "seed": 42}
    words = True  # explanations are sentences: show the value, not feature=value

    def __init__(self, task: str = "binary", **params: Any) -> None:
        super().__init__(task, **params)
        self.profile_: Profile | None = None
        self.calibration_: list[float] = []
        self.calibration_info_: dict[str, Any] = {}
        self.features_ = ["path", "method", "parameters", "values"]

    def applicable(self, events: Sequence[Event]) -> np.ndarray:
        return np.fromiter((e.url is not None for e in events), dtype=bool, count=len(events))

    def _fit(self, events: Sequence[Event], labels: Sequence[str] | None, progress: Progress) -> None:
        if not 0.0 < self.params["fpr"] < 0.5:
            raise ModelError(f"{self.algorithm}: fpr must be between 0 and 0.5 (a share, e.g. 0.01)")
        web = [e for e in events if e.url is not None]
        if len(web) < 50:
            raise ModelError(f"{self.algorithm}: at least 50 HTTP requests are needed, got {len(web)} "
                             f"(of {len(events)} events)")
        order = np.random.default_rng(self.params["seed"]).permutation(len(web))
        cut = max(20, int(len(web) * CALIBRATION_SHARE))
        held = [web[i] for i in order[:cut]]
        train = [web[i] for i in order[cut:]]
        progress(f"learning the profile from {len(train):,} requests", 0.1)
        self.steps_ += [f"{len(web):,} of {len(events):,} events are HTTP requests",
                        f"profile learnt from {len(train):,} requests", f"{len(held):,} held back to calibrate"]
        self.profile_ = Profile(learn_profile(train))
        progress(f"calibrating on {len(held):,} held-back requests", 0.8)
        raw = np.sort(self._raw(held))
        self.calibration_ = raw.tolist()
        self.threshold = 1.0 - self.params["fpr"]
        flagged = int((self._calibrated(raw) >= self.threshold).sum())
        lo, hi = wilson(flagged, len(raw))
        self.calibration_info_ = {"train_rows": len(train), "calibration_rows": len(held),
                                  "skipped_not_http": len(events) - len(web),
                                  "calibrated_fpr": round(flagged / len(raw), 6),
                                  "fpr_95": [round(lo, 6), round(hi, 6)],
                                  "templates": len(self.profile_.templates)}

    def _raw(self, events: Sequence[Event]) -> np.ndarray:
        assert self.profile_ is not None
        judge = self.profile_.judge
        return np.fromiter((sum(f[1] for f in judge(e)) for e in events), dtype=float, count=len(events))

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        cal = np.asarray(self.calibration_)
        n = len(cal)
        below = np.searchsorted(cal, raw, side="left").astype(float)
        # beyond every held-back request: keep ordering, approach 1 as the surprise grows
        beyond = raw > cal[-1]
        below[beyond] = n + (1 - np.exp(-(raw[beyond] - cal[-1])))
        return below / (n + 1)

    def calibrated_share(self) -> float:
        """The share of held-back normal requests at or above the current threshold (the administrator may
        have moved it); none of them says "rare", not "never": the upper end of its 95 % interval then."""
        raw = np.asarray(self.calibration_)
        flagged = int((self._calibrated(raw) >= self.threshold).sum())
        return flagged / len(raw) if flagged else wilson(0, len(raw))[1]

    def score(self, events: Sequence[Event]) -> np.ndarray:
        if self.profile_ is None:
            raise ModelError(f"{self.algorithm}: the model is not trained")
        if not events:
            return np.empty(0)
        usable = self.applicable(events)
        out = np.zeros(len(events))
        chosen = np.flatnonzero(usable)
        if len(chosen):
            out[chosen] = self._calibrated(self._raw([events[i] for i in chosen]))
        return out

    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        assert self.profile_ is not None
        out = []
        for e in events:
            if e.url is None:
                out.append([])
                continue
            findings = sorted(self.profile_.judge(e), key=lambda f: -f[1])[:top]
            out.append([Contribution(kind, sentence, weight) for kind, weight, sentence in findings])
        return out

    def _state(self) -> dict[str, Any]:
        assert self.profile_ is not None
        return {"profile": self.profile_.data, "calibration": self.calibration_,
                "calibration_info": self.calibration_info_}

    def _restore(self, state: dict[str, Any]) -> None:
        self.profile_ = Profile(state["profile"])
        self.calibration_ = [float(v) for v in state["calibration"]]
        self.calibration_info_ = dict(state.get("calibration_info") or {})
        if not self.calibration_:
            raise ValueError("calibration missing")
