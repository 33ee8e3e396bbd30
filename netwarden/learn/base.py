"""The model contract: every learned detector (supervised, unsupervised, sequence) has this shape.

A model family is one module in ``netwarden/learn/`` with one small class per algorithm, registered by
name; the registry (:mod:`netwarden.plugins`) imports every public module of the package, so adding a family
never means editing another file (a module that needs PyTorch at import is private: ``_sequence_network``)::

    @register_algorithm
    class Lstm(Model):
        algorithm = "lstm"                 # the name `netwarden model train --algorithm` takes
        family = "sequence"                # supervised | unsupervised | sequence
        description = "LSTM over windows of consecutive events per source"
        supervised = True                  # needs labels to fit
        default_params = {"timesteps": 10, "epochs": 5, "batch_size": 256, "hidden_size": 32}

        def _fit(self, events, labels, progress): ...      # learn; call progress(stage, fraction)
        def score(self, events): ...                       # (n,) floats in [0, 1], high = suspicious
        def explain(self, events, top=5): ...              # per event: [Contribution, ...]
        def _state(self): ...                              # JSON-ready learned state (no arrays)
        def _restore(self, state): ...
        def _save_artefacts(self, directory): ...          # weights: artefacts.save_tensors / save_sklearn
        def _load_artefacts(self, directory): ...          # the matching safe loaders only

Shape (scikit-learn like): hyper-parameters are ``default_params`` overridden by keywords of the
constructor (unknown names are a :class:`ModelError`; values given as text, e.g. from ``--param k=v``, are
converted to the default's type); learned attributes end with ``_``.

Data: models take :class:`~netwarden.records.Event` batches, in arrival order — the same objects the
parsers produce and the pipeline stores, so a model trained on a CSV runs unchanged in the pipeline.
``labels`` are one string per event, already mapped for the task: ``"normal"``/``"attack"`` for
``task="binary"``, the attack category (``"normal"``, ``"DoS"``, ...) for ``task="category"``;
unsupervised models get ``labels=None`` and events from a period the administrator calls normal.

Scores: :meth:`Model.score` returns one float per event in [0, 1], higher = more suspicious: the
probability of "not normal" for supervised models; for unsupervised ones the share of the normal
training data that scored lower (so ``threshold = 1 - target false-positive rate``). The detector
raises an alert when ``score >= threshold`` and uses the score as the alert's confidence.

Artefacts (SAFE persistence, nothing is ever unpickled): :meth:`Model.save` writes ``model.json``
(algorithm, task, params, threshold, ``_state()``) plus the files ``_save_artefacts`` writes, using
only :mod:`netwarden.learn.artefacts` (skops with an allowlist of types, or safetensors + JSON);
:meth:`Model.load` reads them back, picking the class by the algorithm name in ``model.json``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from netwarden.plugins import Registry
from netwarden.records import Event

if TYPE_CHECKING:
    import numpy as np  # imported where used: the ml detector loads this module at every start, numpy only with a model

#: progress(stage, fraction): stage is a short text ("fitting", "epoch 3/10"), fraction in [0, 1]
Progress = Callable[[str, float], None]
ARTEFACT_FORMAT = 1
META_FILE = "model.json"
TASKS = ("binary", "category")
FAMILIES = ("supervised", "unsupervised", "sequence")
NORMAL = "normal"
ATTACK = "attack"


class ModelError(ValueError):
    """Bad parameters, unusable data or a refused artefact; the message says what to do."""


@dataclass(slots=True)
class Contribution:
    """One feature's part in one prediction: its value and how far it pushed the score (signed)."""

    feature: str
    value: Any
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        import numpy as np

        value = self.value
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float):
            value = round(value, 6)
        return {"feature": self.feature, "value": value, "contribution": round(float(self.contribution), 6)}


def _no_progress(stage: str, fraction: float) -> None:
    pass


M = TypeVar("M", bound="Model")


class Model(ABC):
    algorithm: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str]
    supervised: ClassVar[bool] = True
    default_params: ClassVar[dict[str, Any]] = {}
    #: what the score is, in an alert's words (None: by family, see ``detect/ml.py``'s ``score_words``)
    score_name: ClassVar[str | None] = None

    def __init__(self, task: str = "binary", **params: Any) -> None:
        if task not in TASKS:
            raise ModelError(f"unknown task {task!r}; choose {' or '.join(TASKS)}")
        self.task = task
        self.params = self.check_params(params)
        self.threshold = 0.5
        self.classes_: list[str] = []  # labels seen in training (sorted), empty for unsupervised
        self.features_: list[str] = []  # names of the input features, for explanations
        self.steps_: list[str] = []  # what fitting really used ("20,000 of 25,200 rows, subsampled"), in words

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this algorithm cannot be used here (an optional package missing, and how to install it)."""
        return None

    # -- parameters -----------------------------------------------------------------------------

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """``default_params`` overridden by ``params``; text values converted to the default's type."""
        unknown = set(params) - set(cls.default_params)
        if unknown:
            known = ", ".join(sorted(cls.default_params)) or "none"
            raise ModelError(f"{cls.algorithm}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {known}")
        out = dict(cls.default_params)
        for key, value in params.items():
            out[key] = _convert(cls.algorithm, key, value, cls.default_params[key])
        return out

    # -- learning and scoring -------------------------------------------------------------------

    def fit(self, events: Sequence[Event], labels: Sequence[str] | None = None,
            progress: Progress | None = None) -> Self:
        """Learn from ``events`` (and their ``labels`` when supervised). Returns self."""
        if not events:
            raise ModelError("no events to learn from")
        if self.supervised:
            if labels is None or len(labels) != len(events):
                raise ModelError(f"{self.algorithm} needs one label per event")
            if len(set(labels)) < 2:
                raise ModelError(f"{self.algorithm} needs at least two classes in the labels "
                                 f"(found only {sorted(set(labels))})")
        self.steps_ = []  # a second fit says what it used, not both
        self._fit(events, labels, progress or _no_progress)
        return self

    @abstractmethod
    def _fit(self, events: Sequence[Event], labels: Sequence[str] | None, progress: Progress) -> None: ...

    @abstractmethod
    def score(self, events: Sequence[Event]) -> np.ndarray:
        """One float per event in [0, 1]; higher is more suspicious (see the module docstring)."""

    def predict(self, events: Sequence[Event]) -> list[str]:
        """One label per event: ``"attack"``/``"normal"`` by the threshold (category models: the class)."""
        return [ATTACK if s >= self.threshold else NORMAL for s in self.score(events)]

    def applicable(self, events: Sequence[Event]) -> np.ndarray:
        """Per event, whether this model can judge it (e.g. a model of NSL-KDD flows cannot judge an access-log
        line); the ``ml`` detector scores only those. Default: every event."""
        import numpy as np

        return np.ones(len(events), dtype=bool)

    @abstractmethod
    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        """Per event, the ``top`` features that pushed its score most (largest |contribution| first)."""

    # -- persistence ----------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        """JSON-ready learned state that is not in the artefact files (default: none)."""
        return {}

    def _restore(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`_state` returned."""

    def _save_artefacts(self, directory: Path) -> None:
        """Write learned weights into ``directory`` with the safe helpers of netwarden.learn.artefacts."""

    def _load_artefacts(self, directory: Path) -> None:
        """Read what :meth:`_save_artefacts` wrote, with the matching safe loaders."""

    def save(self, directory: Path | str) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_artefacts(directory)
        meta = {"format": ARTEFACT_FORMAT, "algorithm": self.algorithm, "family": self.family,
                "task": self.task, "params": self.params, "threshold": float(self.threshold),
                "classes": list(self.classes_), "features": list(self.features_), "state": self._state()}
        (directory / META_FILE).write_text(json.dumps(meta, indent=1, default=_json_default))
        return directory

    @staticmethod
    def load(directory: Path | str) -> Model:
        """The model saved in ``directory``; a missing, malformed or unsafe artefact is a ModelError."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / META_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {directory / META_FILE}: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != ARTEFACT_FORMAT:
            raise ModelError(f"{directory / META_FILE}: not a NetWarden model (format {ARTEFACT_FORMAT})")
        cls = algorithms().get(str(meta.get("algorithm")))
        if cls is None:
            raise ModelError(f"{directory}: unknown algorithm {meta.get('algorithm')!r}")
        try:
            model = cls(task=meta["task"], **meta["params"])
            model.threshold = float(meta["threshold"])
            model.classes_ = [str(c) for c in meta["classes"]]
            model.features_ = [str(f) for f in meta["features"]]
            model._restore(meta["state"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{directory / META_FILE}: bad model description ({exc})") from None
        model._load_artefacts(directory)
        return model


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _convert(algorithm: str, key: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    text = value.strip()
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise ModelError(f"{algorithm}: parameter {key}={value!r} must be a {type(default).__name__}") from None
    return value


# -- the registry of algorithms -----------------------------------------------------------------

def _known_family(cls: type[Model]) -> None:
    if cls.family not in FAMILIES:
        raise TypeError(f"model {cls.__qualname__}: family must be one of {FAMILIES}")


#: every algorithm: registered by the public modules of netwarden.learn (see netwarden.plugins)
MODELS: Registry[type[Model]] = Registry("algorithm", "netwarden.learn", key="algorithm", error=ModelError,
                                         required=("algorithm", "family", "description"), check=_known_family)
ALGORITHMS = MODELS.entries
register_algorithm = MODELS.register  # class decorator: make a Model findable by its ``algorithm`` name


def algorithms() -> dict[str, type[Model]]:
    """Every registered algorithm by name (imports each public module of netwarden.learn once)."""
    return MODELS.all()


def create(algorithm: str, task: str = "binary", **params: Any) -> Model:
    """A new, unfitted model of the named algorithm."""
    known = algorithms()
    if algorithm not in known:
        raise ModelError(f"unknown algorithm {algorithm!r}; known: {', '.join(known)}")
    return known[algorithm](task=task, **params)
