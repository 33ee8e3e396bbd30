"""Training the sequence models: epochs over shuffled windows with categorical values hidden at random, early
stopping on a stratified hold-out, and (``target_fpr``) the alert threshold calibrated on held-out normal
windows. Private and loaded with PyTorch by ``sequence._load_torch``, like ``_sequence_network``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from netwarden.learn.base import NORMAL, Progress
from netwarden.learn.sequence import _torch_threads
from netwarden.learn.sequence_features import ENCODERS, UNSEEN, encoder_for
from netwarden.records import Event

if TYPE_CHECKING:
    from netwarden.learn.sequence import SequenceModel


def fit(model: SequenceModel, events: Sequence[Event], labels: Sequence[str], progress: Progress) -> None:
    """Train ``model`` (its ``_fit``): epochs, early stopping on the held-out windows, the calibrated threshold."""
    p = model.params
    started = time.perf_counter()
    progress("features", 0.0)
    model.classes_ = sorted({str(v) for v in labels})
    encoder = ENCODERS[p["features"]]() if p["features"] != "auto" else encoder_for(events)
    model.encoder_ = encoder.fit(events)
    model.features_ = model.encoder_.numeric_names + model.encoder_.categorical_names
    index = {c: i for i, c in enumerate(model.classes_)}
    target = torch.tensor([index[str(v)] for v in labels], dtype=torch.int64)
    numeric, categorical, windows = model._matrices(events)
    rng = np.random.default_rng(p["seed"])
    train, valid = _split(p["validation_fraction"], target.numpy(), rng)
    model.steps_.append(f"{len(train):,} windows trained on" + (f", {len(valid):,} held out (stratified) to stop early"
                                                                 if len(valid) else ""))
    with _torch_threads(model._threads()), torch.random.fork_rng(devices=[]):
        torch.manual_seed(p["seed"])
        network = model.network_ = model._new_network()
        weight = None
        if p["class_weight"] == "balanced":
            counts = np.bincount(target[train].numpy(), minlength=len(model.classes_)).astype(np.float64)
            weight = torch.tensor(len(train) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32)
        loss_fn = nn.CrossEntropyLoss(weight=weight)
        optimiser = torch.optim.AdamW(network.parameters(), lr=p["learning_rate"],
                                      weight_decay=p["weight_decay"])
        model.history_ = []
        best, best_loss, waited = None, math.inf, 0
        batches = max(1, math.ceil(len(train) / p["batch_size"]))
        identity = model.encoder_.IDENTITY
        hide_rates = torch.tensor([p["identity_rate"] if name in identity else p["unseen_rate"]
                                   for name in model.encoder_.categorical_names], dtype=torch.float32)
        for epoch in range(1, p["epochs"] + 1):
            network.train()
            total = 0.0
            for batch in np.array_split(rng.permutation(train), batches):
                rows = windows[torch.from_numpy(batch)]
                codes = categorical[rows]
                if hide_rates.max() > 0:
                    hide = (torch.rand(codes.shape) < hide_rates) & (codes > UNSEEN)
                    codes = codes.masked_fill(hide, UNSEEN)
                optimiser.zero_grad()
                loss = loss_fn(network(numeric[rows], codes), target[batch])
                loss.backward()
                nn.utils.clip_grad_norm_(network.parameters(), 5.0)
                optimiser.step()
                total += float(loss.detach()) * len(batch)
            record = {"epoch": epoch, "loss": round(total / len(train), 6)}
            if len(valid):
                with torch.no_grad():
                    logits = model._logits(numeric, categorical, windows[torch.from_numpy(valid)])
                    record["val_loss"] = round(float(loss_fn(logits, target[valid])), 6)
            model.history_.append(record)
            progress(f"epoch {epoch}/{p['epochs']}: loss {record['loss']:.4f}"
                     + (f", validation {record['val_loss']:.4f}" if "val_loss" in record else ""),
                     0.05 + 0.95 * epoch / p["epochs"])
            current = record.get("val_loss", record["loss"])
            if current < best_loss - 1e-4:
                best, best_loss, waited = copy.deepcopy(network.state_dict()), current, 0
                model.best_epoch_ = epoch
            else:
                waited += 1
                if waited >= p["patience"]:
                    break  # early stopping: validation loss stopped improving
        if best is not None:
            network.load_state_dict(best)
    network.eval()
    model.steps_.append(f"{len(model.history_)} of {p['epochs']} epochs run, the weights of epoch "
                        f"{model.best_epoch_} kept")
    if p["target_fpr"] > 0 and NORMAL in model.classes_:
        with _torch_threads(model._threads()):
            model.threshold = _calibrated_threshold(model, numeric, categorical, windows, target,
                                                    valid if len(valid) else train)
    model.fit_seconds_ = time.perf_counter() - started
    progress("done", 1.0)


def _calibrated_threshold(model: SequenceModel, numeric: torch.Tensor, categorical: torch.Tensor,
                          windows: torch.Tensor, target: torch.Tensor, held: np.ndarray) -> float:
    """The score that ``target_fpr`` of the held-out normal windows reach: the alert threshold for a
    false-positive rate the administrator chose, measured on data the weights were not fitted to."""
    normal = held[target.numpy()[held] == model.classes_.index(NORMAL)]
    if not len(normal):
        return model.threshold
    model.steps_.append(f"threshold calibrated on {len(normal):,} held-out normal windows")
    with torch.no_grad():
        logits = model._logits(numeric, categorical, windows[torch.from_numpy(normal)])
    scores = model._scores(torch.softmax(logits.double(), dim=1).numpy())
    cut = float(np.quantile(scores, 1.0 - model.params["target_fpr"], method="higher"))
    return float(min(max(np.nextafter(cut, 1.0), 1e-6), 1.0))  # score >= threshold alerts: just above


def _split(fraction: float, target: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stratified hold-out of windows for early stopping (every class keeps training rows)."""
    if fraction <= 0:
        return np.arange(len(target)), np.zeros(0, dtype=np.int64)
    held = [rng.permutation(np.flatnonzero(target == c))[: int(np.sum(target == c) * fraction)]
            for c in np.unique(target)]
    valid = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(target)), valid), valid
