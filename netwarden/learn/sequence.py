"""Sequence models — RNN, LSTM and GRU (PyTorch, CPU) — over windows of consecutive events per source.

Each event is scored from the window of the ``timesteps`` events of its source that end with it (a client's
recent requests, a host's recent flows; file order when the records carry no addresses), so a request that
looks ordinary alone but is the 40th 404 in two seconds from a script can still stand out. Features:
:mod:`netwarden.learn.sequence_features`; the network: :mod:`netwarden.learn._sequence_network`, its training:
:mod:`netwarden.learn._sequence_training` (both private, so that finding the model families does not import
PyTorch).

>>> model = create("lstm", timesteps=8, epochs=5, hidden_size=32)    # doctest: +SKIP
>>> model.fit(events, labels)                     # labels: "normal"/"attack" (or categories), one per event
>>> model.score(new_events)                       # P(not normal) per event, in [0, 1]
>>> model.explain(new_events[:1], top=3)          # the features that pushed each score

Training holds out ``validation_fraction`` of the windows (stratified), keeps the weights of the epoch with
the lowest validation loss and stops after ``patience`` epochs without improvement; with dropout, weight
decay and clipped standardised inputs, this is what keeps the model from learning its training file by heart.
The same ``seed`` (and thread count) gives the same model bit for bit. Artefacts: the weights as safetensors,
the feature encoder as JSON in ``model.json`` — loading runs no code and checks every tensor.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from netwarden.learn import artefacts
from netwarden.learn.base import NORMAL, Contribution, Model, ModelError, Progress, register_algorithm
from netwarden.learn.sequence_features import ENCODERS, StepEncoder, window_index
from netwarden.records import Event

# PyTorch is the optional "sequence" extra, and heavy to import: it is loaded by the first sequence model made
# (training, loading), so the core and the list of algorithms run without it
torch: Any = None
SequenceNetwork: Any = None
load_weights: Any = None
training: Any = None  # netwarden.learn._sequence_training
ENABLE_HINT = ("the sequence models (rnn, lstm, gru) need PyTorch, which is not installed: run scripts/setup "
               "(it installs the 'sequence' extra) or pip install 'netwarden[sequence]'")


def torch_available() -> bool:
    import importlib.util

    if torch is not None:
        return True
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # blocked, or a broken installation
        return False


def _load_torch() -> None:
    global torch, SequenceNetwork, load_weights, training
    if torch is not None:
        return
    try:
        import torch as _torch

        from netwarden.learn import _sequence_network as sequence_network
        from netwarden.learn import _sequence_training
    except ImportError:
        raise ModelError(ENABLE_HINT) from None
    torch = _torch
    SequenceNetwork, load_weights = sequence_network.SequenceNetwork, sequence_network.load_weights
    training = _sequence_training

WEIGHTS_FILE = "weights.safetensors"
_PREDICT_BATCH = 4096
MAX_STREAM_SOURCES = 50_000  # sources whose last events score_stream() remembers
_INT_LIMITS = {"timesteps": (1, 1000), "epochs": (1, 10_000), "batch_size": (1, 1 << 20),
               "hidden_size": (1, 4096), "layers": (1, 16), "patience": (1, 10_000), "threads": (0, 256)}
_FLOAT_LIMITS = {"learning_rate": (1e-7, 10.0), "dropout": (0.0, 0.9), "weight_decay": (0.0, 1.0),
                 "validation_fraction": (0.0, 0.5), "unseen_rate": (0.0, 0.5), "identity_rate": (0.0, 1.0),
                 "target_fpr": (0.0, 0.5)}


@dataclass(slots=True)
class _Scored:
    """The inputs of the last scoring call (by event identity), kept for explaining its events."""

    rows: dict[int, int]  # id(event) -> its row
    context: list[Event]  # holds the events, so their ids stay theirs
    numeric: torch.Tensor
    categorical: torch.Tensor
    windows: torch.Tensor


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SequenceModel(Model):
    """What RNN, LSTM and GRU share; a subclass only names its recurrent ``cell``."""

    family = "sequence"
    cell: ClassVar[str] = ""
    default_params: ClassVar[dict[str, Any]] = {
        "timesteps": 10, "epochs": 10, "batch_size": 256, "hidden_size": 32, "layers": 1,
        "learning_rate": 0.002, "dropout": 0.2, "weight_decay": 1e-4, "validation_fraction": 0.1,
        "patience": 3, "class_weight": "balanced", "features": "auto", "seed": 42,
        # share of categorical values replaced by "unseen" while training, so that a service or method never
        # seen in training (new attacks bring them) meets a learned embedding rather than an untrained one
        "unseen_rate": 0.02,
        # the same for features that name a client rather than describe what it does (the user agent's hash
        # bucket): hidden often, so that a model learns behaviour, not the agents its training attackers used
        "identity_rate": 0.5,
        # > 0: set the alert threshold so that this share of the validation split's normal traffic alerts
        # (0: threshold 0.5, "more likely attack than normal")
        "target_fpr": 0.0,
        # 0: one thread. Measured on the 2-core machine with the other core busy: one thread trains 4-40x
        # faster than two (OpenMP workers wait on each other); these small networks gain little from two
        "threads": 0,
    }

    @classmethod
    def unavailable(cls) -> str | None:
        return None if torch_available() else ENABLE_HINT

    def __init__(self, task: str = "binary", **params: Any) -> None:
        _load_torch()
        super().__init__(task, **params)
        self._check_params()
        self.encoder_: StepEncoder | None = None
        self.network_: SequenceNetwork | None = None
        self.history_: list[dict[str, float]] = []
        self.best_epoch_ = 0
        self.fit_seconds_ = 0.0
        self._last: _Scored | None = None
        self._stream: collections.OrderedDict[str, collections.deque[Event]] = collections.OrderedDict()

    def _check_params(self) -> None:
        p = self.params
        for name, (low, high) in _INT_LIMITS.items():
            value = p[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ModelError(f"{self.algorithm}: {name} must be a whole number from {low} to {high}, "
                                 f"not {value!r}")
        for name, (low, high) in _FLOAT_LIMITS.items():
            value = p[name]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
                raise ModelError(f"{self.algorithm}: {name} must be a number from {low} to {high}, "
                                 f"not {value!r}")
        if p["class_weight"] not in ("balanced", "none"):
            raise ModelError(f"{self.algorithm}: class_weight must be 'balanced' or 'none'")
        if p["features"] != "auto" and p["features"] not in ENCODERS:
            raise ModelError(f"{self.algorithm}: features must be 'auto' or one of {', '.join(ENCODERS)}")
        if not isinstance(p["seed"], int) or isinstance(p["seed"], bool):
            raise ModelError(f"{self.algorithm}: seed must be a whole number")

    def _threads(self) -> int:
        return self.params["threads"] or 1

    # -- data ---------------------------------------------------------------------------------------
    def _matrices(self, events: Sequence[Event]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-event rows with a zero padding row at the end (window index -1 reads it), and the windows."""
        assert self.encoder_ is not None
        numeric, categorical = self.encoder_.transform(events)
        present = np.ones((len(events), 1), dtype=np.float32)  # tells the network real steps from padding
        numeric = np.vstack([np.hstack([numeric, present]), np.zeros((1, numeric.shape[1] + 1), np.float32)])
        categorical = np.vstack([categorical, np.zeros((1, categorical.shape[1]), np.int64)])
        windows = window_index(events, self.params["timesteps"], self.encoder_.by_source)
        return torch.from_numpy(numeric), torch.from_numpy(categorical), torch.from_numpy(windows)

    def _new_network(self) -> SequenceNetwork:
        assert self.encoder_ is not None
        p = self.params
        vocabularies = [len(v) + 2 for v in self.encoder_.vocabularies]  # + padding and unseen
        return SequenceNetwork(self.cell, len(self.encoder_.numeric_names) + 1, vocabularies,
                               p["hidden_size"], p["layers"], p["dropout"], len(self.classes_))

    # -- training (netwarden.learn._sequence_training) -------------------------------------------------
    def _fit(self, events: Sequence[Event], labels: Sequence[str] | None, progress: Progress) -> None:
        assert labels is not None
        training.fit(self, events, labels, progress)

    def _logits(self, numeric: torch.Tensor, categorical: torch.Tensor,
                windows: torch.Tensor) -> torch.Tensor:
        assert self.network_ is not None
        was_training = self.network_.training
        self.network_.eval()
        try:
            parts = [self.network_(numeric[w], categorical[w]) for w in torch.split(windows, _PREDICT_BATCH)]
        finally:
            self.network_.train(was_training)
        return torch.cat(parts) if parts else torch.zeros((0, len(self.classes_)))

    # -- prediction ---------------------------------------------------------------------------------
    def _check_trained(self) -> None:
        if self.network_ is None or self.encoder_ is None:
            raise ModelError(f"{self.algorithm}: the model is not trained")

    def predict_proba(self, events: Sequence[Event]) -> np.ndarray:
        """Class probabilities ``[n, len(classes_)]``, columns in the order of ``classes_``."""
        self._check_trained()
        events = list(events)
        if not events:
            return np.zeros((0, len(self.classes_)))
        return self._proba(events, np.arange(len(events)))

    def _proba(self, context: list[Event], rows: np.ndarray) -> np.ndarray:
        """Probabilities of ``context[rows]``, whose windows may reach back into the rest of ``context``."""
        with _torch_threads(self._threads()), torch.no_grad():
            numeric, categorical, windows = self._matrices(context)
            logits = self._logits(numeric, categorical, windows[torch.from_numpy(rows)])
        # explain() right after (the ml detector explains the strongest event of the batch it just scored)
        # reuses these windows, so an explanation sees the same context as the score it explains
        self._last = _Scored({id(context[i]): int(i) for i in rows}, context, numeric, categorical, windows)
        return torch.softmax(logits.double(), dim=1).numpy()

    def score_stream(self, events: Sequence[Event]) -> np.ndarray:
        """:meth:`score` for a live stream cut into batches: each source's last ``timesteps - 1`` events of
        earlier calls are put in front of its events, so windows cross batch boundaries. Remembers at most
        ``MAX_STREAM_SOURCES`` sources (the least recently seen are forgotten); :meth:`reset_stream`
        clears them."""
        self._check_trained()
        assert self.encoder_ is not None
        events = list(events)
        if not events:
            return np.empty(0)
        keys = [(e.src_ip or "") if self.encoder_.by_source else "" for e in events]
        sources = list(dict.fromkeys(keys))
        carried = [e for key in sources for e in self._stream.get(key, ())]
        proba = self._proba(carried + events, np.arange(len(carried), len(carried) + len(events)))
        keep = self.params["timesteps"] - 1
        if keep:
            for key in sources:
                self._stream.setdefault(key, collections.deque(maxlen=keep))
                self._stream.move_to_end(key)
            for key, event in zip(keys, events):
                self._stream[key].append(event)
            while len(self._stream) > MAX_STREAM_SOURCES:
                self._stream.popitem(last=False)
        return self._scores(proba)

    def reset_stream(self) -> None:
        self._stream.clear()

    def applicable(self, events: Sequence[Event]) -> np.ndarray:
        """Web requests for a model of access logs, records with the learned columns for a flow model."""
        self._check_trained()
        assert self.encoder_ is not None
        return self.encoder_.applicable(events)

    def score(self, events: Sequence[Event]) -> np.ndarray:
        """P(not normal) per event (windows from ``events`` alone; see :meth:`score_stream` for live use)."""
        return self._scores(self.predict_proba(events))

    def _scores(self, proba: np.ndarray) -> np.ndarray:
        if NORMAL in self.classes_:
            return np.clip(1.0 - proba[:, self.classes_.index(NORMAL)], 0.0, 1.0)
        # no "normal" class (only attack categories): the most likely one's probability
        return proba.max(axis=1) if len(proba) else np.empty(0)

    def predict(self, events: Sequence[Event]) -> list[str]:
        if self.task == "binary":
            return super().predict(events)
        proba = self.predict_proba(events)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def _suspicion_logit(self, logits: torch.Tensor) -> torch.Tensor:
        """log(P(not normal) / P(normal)): the quantity whose gradient the explanation follows."""
        if NORMAL not in self.classes_:
            return logits.max(dim=1).values
        k = self.classes_.index(NORMAL)
        others = torch.cat([logits[:, :k], logits[:, k + 1:]], dim=1)
        return torch.logsumexp(others, dim=1) - logits[:, k]

    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        """Per event, the ``top`` features that moved its score most: gradient × input of the score's logit,
        summed over the window's steps (numeric values; for a categorical feature, its embedding vector).
        A positive contribution pushed towards "attack"; the value shown is the event's own."""
        self._check_trained()
        assert self.network_ is not None and self.encoder_ is not None
        events = list(events)
        names = self.features_
        out: list[list[Contribution]] = []
        last = self._last
        with _torch_threads(self._threads()):
            if last is not None and all(id(e) in last.rows for e in events):
                numeric, categorical, windows = last.numeric, last.categorical, last.windows
                positions = torch.tensor([last.rows[id(e)] for e in events], dtype=torch.int64)
                context = last.context
            else:
                numeric, categorical, windows = self._matrices(events)
                positions = torch.arange(len(events))
                context = events
            self.network_.eval()
            for chunk in torch.split(torch.arange(len(events)), 1024):
                rows = windows[positions[chunk]]
                x, embedded = self.network_.steps(numeric[rows], categorical[rows])
                x = x.detach().requires_grad_(True)
                embedded = [e.detach().requires_grad_(True) for e in embedded]
                self._suspicion_logit(self.network_.forward_parts(x, embedded)).sum().backward()
                assert x.grad is not None
                parts = [(x.grad * x)[..., :-1].sum(dim=1)]  # the last numeric column is the padding flag
                parts += [(e.grad * e).sum(dim=(1, 2))[:, None] for e in embedded]  # type: ignore[operator]
                weights = torch.cat(parts, dim=1).detach().numpy()
                for i, row in zip(chunk.tolist(), weights):
                    order = np.argsort(-np.abs(row), kind="stable")[:top]
                    window = [context[k] for k in windows[positions[i]].tolist() if k >= 0]
                    values = self.encoder_.describe(window)
                    out.append([Contribution(names[j], values[names[j]], float(row[j]))
                                for j in order if row[j] != 0.0])
        return out

    # -- persistence --------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {"encoder": self.encoder_.state() if self.encoder_ else None, "history": self.history_,
                "best_epoch": self.best_epoch_, "fit_seconds": round(self.fit_seconds_, 3)}

    def _restore(self, state: dict[str, Any]) -> None:
        encoder = state.get("encoder")
        self.encoder_ = StepEncoder.from_state(encoder) if encoder is not None else None
        encoder = self.encoder_
        if encoder is not None and self.features_ != encoder.numeric_names + encoder.categorical_names:
            raise ValueError("features do not match the encoder")
        history = state.get("history")
        self.history_ = history if isinstance(history, list) else []
        self.best_epoch_ = int(state.get("best_epoch") or 0)
        self.fit_seconds_ = float(state.get("fit_seconds") or 0.0)

    def _save_artefacts(self, directory: Path) -> None:
        if self.network_ is not None:
            artefacts.save_tensors(self.network_.state_dict(), directory / WEIGHTS_FILE)

    def _load_artefacts(self, directory: Path) -> None:
        if self.encoder_ is None:
            return  # saved before training: nothing to load
        if len(self.classes_) < 2:
            raise ModelError(f"{directory}: a trained {self.algorithm} needs at least two classes")
        tensors = {name: torch.from_numpy(array.copy())
                   for name, array in artefacts.load_tensors(directory / WEIGHTS_FILE).items()}
        network = self._new_network()
        try:
            load_weights(network, tensors)
        except ValueError as exc:
            raise ModelError(f"{directory / WEIGHTS_FILE}: {exc}") from None
        network.eval()
        self.network_ = network


@register_algorithm
class Rnn(SequenceModel):
    algorithm = "rnn"
    cell = "rnn"
    description = "Elman RNN over windows of consecutive events per source (fast, short memory)"


@register_algorithm
class Lstm(SequenceModel):
    algorithm = "lstm"
    cell = "lstm"
    description = "LSTM over windows of consecutive events per source (gated memory)"


@register_algorithm
class Gru(SequenceModel):
    algorithm = "gru"
    cell = "gru"
    description = "GRU over windows of consecutive events per source (gated, fewer weights than LSTM)"
