"""Feature vectors from events, learned once at training time and saved as plain JSON.

Two views:

- ``flow``: one row per event. Flow datasets (NSL-KDD, UNSW-NB15, CICFlowMeter, generic CSV) carry their
  features in ``Event.extra``; other events (NetFlow, Zeek, firewall, access logs) use the normalised
  fields (bytes, packets, duration, ports, protocol, status ...) plus derived rates.
- ``host``: one row per source address per time window (``window`` seconds): how many events, distinct
  destinations and ports, bytes, failures, HTTP errors ... Every event gets its window's row, so a model
  scores events either way.

Numbers pass through a signed ``log1p``: byte and packet counts span nine orders of magnitude and an attack
type unseen in training differs in scale more than in exact value, so compressing the scale generalises
better than raw counts. Categorical values become one-hot columns for the levels seen at least
``min_count`` times (at most ``max_levels`` per column); everything else, including values never seen in
training, falls into an ``other`` column — an unseen service never breaks scoring.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from netwarden.learn.base import ModelError
from netwarden.learn.data import NOT_FEATURES
from netwarden.records import Event

EVENT_NUMERIC = ("duration", "bytes_out", "bytes_in", "packets_out", "packets_in")
DERIVED = ("bytes_per_second", "bytes_out_per_packet", "bytes_in_share")
#: request features of events with a URL (access logs, HTTP events): attacks differ in shape, not in bytes
URL_NUMERIC = ("url_length", "path_length", "path_depth", "query_length", "query_params", "url_special_chars",
               "url_percent_escapes", "url_digit_share", "body_length", "body_params")
_SPECIAL = frozenset("'\"<>;()[]{}|`$\\*!,=%&+@^~")
EVENT_CATEGORICAL = ("transport", "app_protocol", "tcp_flags", "action", "http_method", "outcome", "dst_port",
                     "http_status")
HOST_NUMERIC = ("events", "distinct_destinations", "distinct_ports", "bytes_out", "bytes_in", "packets",
                "mean_duration", "failures", "failure_share", "http_errors", "http_error_share", "distinct_urls",
                "blocked")
_FAILED = frozenset({"failure", "failed"})
_BLOCKED = frozenset({"blocked", "dropped", "drop", "denied", "deny", "reject", "rejected"})
SAMPLE_FOR_COLUMNS = 20_000
MAX_DISTINCT_TEXT = 5_000
OTHER = "(other)"
MISSING = "(missing)"


def signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.copysign(np.log1p(np.abs(x)), x)


class FeatureSpec:
    """Which features, their medians and scales, and the kept categorical levels: fit once, then transform.

    >>> spec = FeatureSpec().fit(events)            # doctest: +SKIP
    >>> X = spec.transform(events, scale=True)      # float matrix, one row per event
    """

    def __init__(self, view: str = "flow", window: float = 60.0, min_count: int = 5, max_levels: int = 40) -> None:
        if view not in ("flow", "host"):
            raise ModelError(f"unknown feature view {view!r}; choose flow or host")
        if view == "host" and not window > 0:
            raise ModelError("the host view needs a window > 0 seconds")
        self.view = view
        self.window = float(window)
        self.min_count = min_count
        self.max_levels = max_levels
        self.mode = "host" if view == "host" else "extra"
        self.numeric: list[str] = []
        self.categorical: list[str] = []
        self.levels: dict[str, list[str]] = {}
        self.median: list[float] = []
        self.mean: list[float] = []
        self.std: list[float] = []
        self.mad: list[float] = []  # robust scale (1.4826 * MAD) for "most unusual feature" explanations
        self.level_share: dict[str, dict[str, float]] = {}

    # -- learning -------------------------------------------------------------------------------

    def fit(self, events: Sequence[Event]) -> FeatureSpec:
        if not events:
            raise ModelError("no events to build features from")
        if self.view == "flow":
            self._choose_columns(events)
        else:
            self.numeric, self.categorical = list(HOST_NUMERIC), []
        num, cat = self.raw(events)
        if num.shape[1]:
            with warnings.catch_warnings():  # a column missing in every row: its median is NaN, made 0 below
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(num, axis=0)
            med = np.where(np.isnan(med), 0.0, med)
            filled = np.where(np.isnan(num), med, num)
            std = filled.std(axis=0)
            mad = 1.4826 * np.median(np.abs(filled - med), axis=0)
            self.median = med.tolist()
            self.mean = filled.mean(axis=0).tolist()
            self.std = np.where(std > 1e-9, std, 1.0).tolist()
            # a feature that is constant for most rows has MAD 0; fall back to a share of its spread
            self.mad = np.where(mad > 1e-9, mad, np.maximum(std, 1e-3)).tolist()
        for j, name in enumerate(self.categorical):
            counts = Counter(text_value(v) for v in cat[:, j].tolist())
            kept = [v for v, c in counts.most_common(self.max_levels) if c >= self.min_count]
            self.levels[name] = sorted(kept)
            self.level_share[name] = {v: counts[v] / len(events) for v in kept}
        if not self.numeric and not self.categorical:
            raise ModelError("the events carry no usable features (no numbers, no categories)")
        return self

    def _choose_columns(self, events: Sequence[Event]) -> None:
        sample = events[:SAMPLE_FOR_COLUMNS]
        rich = sum(1 for e in sample if sum(isinstance(v, (int, float)) for v in e.extra.values()) >= 3)
        self.mode = "extra" if rich * 2 >= len(sample) else "event"
        if self.mode == "event":
            present = [f for f in EVENT_NUMERIC if any(getattr(e, f) is not None for e in sample)]
            self.numeric = present + list(DERIVED)
            if any(e.url for e in sample):
                self.numeric += list(URL_NUMERIC)
            self.categorical = [f for f in EVENT_CATEGORICAL if any(getattr(e, f) is not None for e in sample)]
            return
        numeric: dict[str, None] = {}
        text: dict[str, set[str]] = defaultdict(set)
        for e in sample:
            for key, value in e.extra.items():
                if key.lower() in NOT_FEATURES or value is None:
                    continue
                if isinstance(value, (bool, str)):
                    if len(text[key]) <= MAX_DISTINCT_TEXT:
                        text[key].add(str(value))
                elif isinstance(value, (int, float)):
                    numeric.setdefault(key)
        self.numeric = [k for k in numeric if k not in text]
        self.categorical = [k for k, values in text.items() if len(values) <= MAX_DISTINCT_TEXT and k not in numeric]

    # -- transforming ---------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Names of the input features (numeric first, then categorical), as explanations show them."""
        return self.numeric + self.categorical

    def raw(self, events: Sequence[Event]) -> tuple[np.ndarray, np.ndarray]:
        """(numbers after signed log1p with NaN for missing, categorical text) for ``events``."""
        if self.mode == "extra":
            extras = [e.extra for e in events]
            num = _matrix(_columns(extras, self.numeric), len(self.numeric))
            cat = _objects(_columns(extras, self.categorical), len(events), len(self.categorical))
        elif self.mode == "event":
            base = [f for f in self.numeric if f in EVENT_NUMERIC]
            num = _matrix([[getattr(e, f) for f in base] for e in events], len(base))
            if DERIVED[0] in self.numeric:
                num = np.hstack([num, _derived(events)])
            if URL_NUMERIC[0] in self.numeric:
                num = np.hstack([num, url_rows(events)])
            cat = _objects([[getattr(e, f) for f in self.categorical] for e in events], len(events),
                           len(self.categorical))
        else:
            num = host_rows(events, self.window)
            cat = np.empty((len(events), 0), dtype=object)
        return signed_log1p(num), cat

    def transform(self, events: Sequence[Event], scale: bool = False) -> np.ndarray:
        """The model input: imputed (and optionally standardised) numbers, then one-hot columns."""
        num, cat = self.raw(events)
        return self.assemble(num, cat, scale)

    def assemble(self, num: np.ndarray, cat: np.ndarray, scale: bool) -> np.ndarray:
        n, width = num.shape[0], num.shape[1]
        out = np.zeros((n, width + sum(len(self.levels[c]) + 1 for c in self.categorical)))
        if width:
            med = np.asarray(self.median)
            block = out[:, :width]
            np.copyto(block, num)
            np.copyto(block, med, where=np.isnan(num))  # a missing number is a typical one
            if scale:
                block -= np.asarray(self.mean)
                block /= np.asarray(self.std)
        rows = np.arange(n)
        start = width
        for j, name in enumerate(self.categorical):
            levels = self.levels[name]
            index = {v: i for i, v in enumerate(levels)}
            other = len(levels)
            get = index.get
            # raw values: text is looked up as is, anything else (None, numbers) through _text
            codes = np.fromiter((get(v, other) if type(v) is str else get(text_value(v), other) for v in cat[:, j]),
                                dtype=np.int64, count=n)
            out[rows, start + codes] = 1.0
            start += other + 1
        return out

    def owners(self) -> np.ndarray:
        """For each model input column, the index of the input feature (in :attr:`names`) it comes from."""
        owners = list(range(len(self.numeric)))
        for j, name in enumerate(self.categorical):
            owners += [len(self.numeric) + j] * (len(self.levels[name]) + 1)
        return np.asarray(owners)

    def baseline(self) -> tuple[np.ndarray, np.ndarray]:
        """A typical normal row (medians, most common levels): what occlusion explanations compare with."""
        num = np.asarray(self.median, dtype=float).reshape(1, -1)
        cat = np.array([[max(self.level_share[n], key=self.level_share[n].get) if self.level_share[n] else OTHER
                         for n in self.categorical]], dtype=object).reshape(1, len(self.categorical))
        return num, cat

    def display_values(self, events: Sequence[Event]) -> list[list[Any]]:
        """The human-readable value of every input feature per event (before log scaling)."""
        num, cat = self.raw(events)
        plain = np.sign(num) * np.expm1(np.abs(num))
        rows = []
        for i in range(len(events)):
            values: list[Any] = [None if math.isnan(v) else round(float(v), 4) for v in plain[i]]
            rows.append(values + list(cat[i]))
        return rows

    # -- persistence ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("view", "window", "min_count", "max_levels", "mode", "numeric",
                                               "categorical", "levels", "median", "mean", "std", "mad",
                                               "level_share")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        spec = cls(data["view"], data["window"], data["min_count"], data["max_levels"])
        for key in ("mode", "numeric", "categorical", "levels", "median", "mean", "std", "mad", "level_share"):
            setattr(spec, key, data[key])
        n = len(spec.numeric)
        if spec.mode not in ("extra", "event", "host") or not all(len(data[k]) == n for k in ("median", "std")):
            raise ModelError("inconsistent feature description")
        if set(spec.levels) != set(spec.categorical):
            raise ModelError("inconsistent feature description (categorical levels)")
        return spec


def _columns(extras: list[dict[str, Any]], keys: list[str]) -> list[Any]:
    """The values of ``keys`` per dict: one C-level itemgetter per row when every key is there (the
    common case for a file of one format), ``dict.get`` otherwise."""
    if not keys:
        return [()] * len(extras)
    getter = itemgetter(*keys)
    try:
        rows = list(map(getter, extras))
    except KeyError:
        return [[x.get(k) for k in keys] for x in extras]
    return rows if len(keys) > 1 else [(v,) for v in rows]


def text_value(value: Any) -> str:
    if value is None:
        return MISSING
    return str(value)[:64]


def _objects(rows: list[Any], n: int, width: int) -> np.ndarray:
    out = np.empty((n, width), dtype=object)
    if n and width:
        out[:] = rows
    return out


def _matrix(rows: list[list[Any]], width: int) -> np.ndarray:
    if not rows:
        return np.empty((0, width))
    try:
        return np.array(rows, dtype=float).reshape(len(rows), width)
    except (TypeError, ValueError):  # text where a number belongs: that cell is missing, the row stays
        return np.array([[_number(v) for v in row] for row in rows], dtype=float).reshape(len(rows), width)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _derived(events: Sequence[Event]) -> np.ndarray:
    out = np.empty((len(events), len(DERIVED)))
    for i, e in enumerate(events):
        b_out, b_in = e.bytes_out or 0, e.bytes_in or 0
        total = b_out + b_in
        out[i, 0] = total / max(e.duration or 0.0, 0.001) if e.duration is not None else math.nan
        out[i, 1] = b_out / e.packets_out if e.packets_out else math.nan
        out[i, 2] = b_in / total if total else math.nan
    return out


def url_rows(events: Sequence[Event]) -> np.ndarray:
    """Per event, the shape of its request (see URL_NUMERIC); NaN for events without a URL."""
    out = np.full((len(events), len(URL_NUMERIC)), math.nan)
    special = _SPECIAL
    for i, e in enumerate(events):
        url = e.url
        if url is None:
            continue
        path, _, query = url.partition("?")
        body = e.extra.get("body") if e.extra else None
        body = body if isinstance(body, str) else ""
        n = len(url)
        out[i] = (n, len(path), path.count("/"), len(query), query.count("&") + 1 if query else 0,
                  sum(1 for c in url if c in special), url.count("%"), sum(c.isdigit() for c in url) / n if n else 0.0,
                  len(body), body.count("&") + 1 if body else 0)
    return out


def host_rows(events: Sequence[Event], window: float) -> np.ndarray:
    """Per event, the activity of its source in its time window (see HOST_NUMERIC for the columns)."""
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, e in enumerate(events):
        slot = int(e.timestamp.timestamp() // window) if e.timestamp is not None else 0
        groups[(e.src_ip or "-", slot)].append(i)
    out = np.empty((len(events), len(HOST_NUMERIC)))
    for members in groups.values():
        evs = [events[i] for i in members]
        n = len(evs)
        failures = sum(1 for e in evs if (e.outcome or "") in _FAILED)
        http = [e.http_status for e in evs if e.http_status is not None]
        errors = sum(1 for s in http if s >= 400)
        durations = [e.duration for e in evs if e.duration is not None]
        row = (n, len({e.dst_ip for e in evs if e.dst_ip}), len({e.dst_port for e in evs if e.dst_port is not None}),
               sum(e.bytes_out or 0 for e in evs), sum(e.bytes_in or 0 for e in evs),
               sum((e.packets_out or 0) + (e.packets_in or 0) for e in evs),
               sum(durations) / len(durations) if durations else 0.0, failures, failures / n, errors,
               errors / len(http) if http else 0.0, len({e.url for e in evs if e.url}),
               sum(1 for e in evs if (e.action or "").lower() in _BLOCKED))
        out[members] = row
    return out
