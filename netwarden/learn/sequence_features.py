"""Per-event features for the sequence models, and the windows of consecutive events they read.

Two encoders turn events into one row per event: ``numeric`` (float32, standardised) and ``categorical``
(int64 indices into learned vocabularies, 0 = padding, 1 = a value not seen in training):

- :class:`AccessLogEncoder` for web requests (access logs, HTTP events): method, status class, user-agent
  category and hash bucket, path extension; path depth, URL length, query parameters, suspicious characters,
  percent escapes, log1p of the response size, log1p of the time since the client's previous request.
- :class:`FlowEncoder` for flow records (NSL-KDD, UNSW-NB15, NetFlow, Zeek ...): every numeric field the
  parser kept in ``extra`` (or the core byte/packet/duration fields when there are none), log1p-scaled then
  standardised; text fields (protocol, service, flag/state) as categories.

:func:`window_index` groups events by source (``src_ip``; one group in file order when there is none),
orders each group by time, and gives every event the indices of the ``timesteps`` events that end with it.
An encoder's whole learned state is plain JSON (:meth:`StepEncoder.state`), so a saved model holds no code.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import unquote

import numpy as np

from netwarden.records import Event

PAD, UNSEEN = 0, 1  # reserved category indices
_MAX_VOCABULARY = 200  # values kept per categorical feature (the most frequent); the rest count as unseen
_CLIP = 10.0  # standardised values are clipped: a value far outside training says "extreme", not "how much"

# fields that must never be features: ground truth, identifiers, addresses and absolute times
_NOT_FEATURES = frozenset({
    "label", "attack_category", "attack_cat", "difficulty", "id", "srcip", "dstip", "sport", "dsport",
    "stime", "ltime", "src_ip", "dst_ip", "src_port", "flow_id", "timestamp"})
_CORE_NUMERIC = ("duration", "bytes_out", "bytes_in", "packets_out", "packets_in")
_CORE_TEXT = ("transport", "app_protocol", "tcp_flags")

_SCANNER_AGENTS = re.compile(
    r"sqlmap|nikto|nmap|masscan|zgrab|dirbuster|gobuster|wfuzz|ffuf|nuclei|acunetix|w3af|burp|hydra|"
    r"nessus|openvas|zap/|wpscan|jaeles|commix|havij", re.IGNORECASE)
_SCRIPT_AGENTS = re.compile(
    r"curl|wget|python|go-http|java/|libwww|okhttp|httpclient|ruby|perl|php/|axios|node-fetch|powershell",
    re.IGNORECASE)
_BOT_AGENTS = re.compile(r"bot\b|bot/|crawler|spider|slurp|feedfetcher|monitor|facebookexternalhit",
                         re.IGNORECASE)
_SUSPICIOUS = re.compile(r"\.\./|\.\.\\|[<>'\"`;|$(){}\\]|%00|\x00|/etc/|cmd=|exec|select\s|union\s|script",
                         re.IGNORECASE)
UA_BUCKETS = 32


@functools.lru_cache(maxsize=4096)  # a site sees few distinct agents; the regexes cost most of encoding
def user_agent_category(agent: str | None) -> str:
    """``none``, ``scanner`` (attack tools), ``script`` (curl, python...), ``bot``, ``browser``, ``other``."""
    if not agent or agent == "-":
        return "none"
    if _SCANNER_AGENTS.search(agent):
        return "scanner"
    if _SCRIPT_AGENTS.search(agent):
        return "script"
    if _BOT_AGENTS.search(agent):
        return "bot"
    if agent.startswith(("Mozilla/", "Opera/")):
        return "browser"
    return "other"


def path_features(url: str | None) -> tuple[str, list[float]]:
    """The extension of the path and [depth, length, has query, query parameters, suspicious matches,
    percent escapes] of a request URL (attacker-controlled text: only counted, never evaluated). The
    encoder log-scales these counts like every other non-negative feature."""
    url = (url or "")[:8192]
    path, _, query = url.partition("?")
    if "://" in path:  # absolute-form request line: keep the path only
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    segments = [s for s in path.split("/") if s]
    last = segments[-1] if segments else ""
    ext = last.rsplit(".", 1)[1].lower()[:10] if "." in last[1:] else ""
    decoded = unquote(url)
    params = len([p for p in query.split("&") if p]) if query else 0
    return ext, [float(len(segments)), float(len(url)), 1.0 if "?" in url else 0.0, float(params),
                 float(len(_SUSPICIOUS.findall(decoded))), float(url.count("%"))]


def _order(events: Sequence[Event], by_source: bool) -> list[np.ndarray]:
    """Event indices per group (a source, or everything), each in time order (ties keep input order)."""
    groups: dict[str, list[int]] = {}
    for i, event in enumerate(events):
        groups.setdefault((event.src_ip or "") if by_source else "", []).append(i)
    out = []
    for members in groups.values():
        times = [events[i].timestamp for i in members]
        if all(t is not None for t in times):
            try:
                members = sorted(members, key=lambda i: events[i].timestamp)  # type: ignore[arg-type,return-value]
            except TypeError:  # times with and without a zone cannot be compared: keep arrival order
                pass
        out.append(np.asarray(members, dtype=np.int64))
    return out


def window_index(events: Sequence[Event], timesteps: int, by_source: bool = True) -> np.ndarray:
    """``[n, timesteps]`` indices of the events each event's window holds (its own last); -1 pads the front
    of windows that start before the first event of their group."""
    out = np.full((len(events), timesteps), -1, dtype=np.int64)
    groups = _order(events, by_source)
    if not groups:
        return out
    flat = np.concatenate(groups)  # every group's events in order, one group after the other
    rank = np.concatenate([np.arange(len(g)) for g in groups])  # position within its group
    here = np.arange(len(flat))
    for k in range(timesteps):
        back = timesteps - 1 - k  # step k of a window is the event `back` places earlier in its group
        ok = rank >= back
        out[flat[ok], k] = flat[here[ok] - back]
    return out


def seconds_since_previous(events: Sequence[Event], by_source: bool = True) -> np.ndarray:
    """Seconds since the same source's previous event (0 for its first, or without times)."""
    out = np.zeros(len(events), dtype=np.float64)
    for members in _order(events, by_source):
        previous = None
        for i in members:
            t = events[i].timestamp
            if t is not None and previous is not None and (t.tzinfo is None) == (previous.tzinfo is None):
                out[i] = max((t - previous).total_seconds(), 0.0)
            previous = t if t is not None else previous
    return out


class StepEncoder:
    """Learns vocabularies and scaling from training events; turns events into per-event rows.

    Subclasses name their features and compute raw values in :meth:`_raw`; this class does the rest.
    """

    kind: ClassVar[str] = ""
    IDENTITY: ClassVar[tuple[str, ...]] = ()  # categorical features that identify rather than describe

    def __init__(self) -> None:
        self.numeric_names: list[str] = []
        self.categorical_names: list[str] = []
        self.vocabularies: list[list[str]] = []  # index i + 2 is the code of vocabularies[f][i]
        self.log_scaled: list[bool] = []
        self.mean: list[float] = []
        self.std: list[float] = []
        self.by_source = True

    # -- subclass hooks -------------------------------------------------------------------------
    def _learn_names(self, events: Sequence[Event]) -> None:
        raise NotImplementedError

    def _raw(self, events: Sequence[Event]) -> tuple[np.ndarray, list[list[str]]]:
        """Numeric values ``[n, len(numeric_names)]`` and, per categorical feature, one string per event."""
        raise NotImplementedError

    # -- learning and encoding ------------------------------------------------------------------
    def fit(self, events: Sequence[Event]) -> StepEncoder:
        if not events:
            raise ValueError("no events to learn features from")
        self.by_source = any(e.src_ip for e in events)
        self._learn_names(events)
        numeric, texts = self._raw(events)
        self.vocabularies = [[v for v, _ in Counter(column).most_common(_MAX_VOCABULARY)] for column in texts]
        finite = np.nan_to_num(numeric, nan=0.0, posinf=0.0, neginf=0.0)
        self.log_scaled = [bool(finite[:, j].min() >= 0) for j in range(finite.shape[1])]
        scaled = self._log(numeric)
        self.mean = [float(x) for x in scaled.mean(axis=0)] if scaled.size else []
        std = scaled.std(axis=0) if scaled.size else np.zeros(0)
        self.std = [float(s) if s > 1e-9 else 1.0 for s in std]
        return self

    def _log(self, numeric: np.ndarray) -> np.ndarray:
        numeric = np.nan_to_num(numeric, nan=0.0, posinf=0.0, neginf=0.0)
        mask = np.asarray(self.log_scaled, dtype=bool)
        if mask.any():
            numeric[:, mask] = np.log1p(np.maximum(numeric[:, mask], 0.0))
        return numeric

    def transform(self, events: Sequence[Event]) -> tuple[np.ndarray, np.ndarray]:
        """``numeric`` float32 ``[n, d]`` (standardised, clipped) and ``categorical`` int64 ``[n, c]``."""
        numeric, texts = self._raw(events)
        if numeric.shape[1]:
            numeric = (self._log(numeric) - np.asarray(self.mean)) / np.asarray(self.std)
            numeric = np.clip(numeric, -_CLIP, _CLIP)
        categorical = np.empty((len(events), len(texts)), dtype=np.int64)
        for f, column in enumerate(texts):
            codes = {v: i + 2 for i, v in enumerate(self.vocabularies[f])}
            categorical[:, f] = [codes.get(v, UNSEEN) for v in column]
        return numeric.astype(np.float32), categorical

    def applicable(self, events: Sequence[Event]) -> np.ndarray:
        """Per event, whether it is the kind of record this encoder learned from."""
        raise NotImplementedError

    def describe(self, window: Sequence[Event]) -> dict[str, str]:
        """Every feature's value for the last event of ``window`` (its source's events before it, which
        features such as the time since the previous request need), as text for explanations."""
        numeric, texts = self._raw(window)
        out = {name: f"{float(numeric[-1, j]):g}" for j, name in enumerate(self.numeric_names)}
        out.update((name, texts[f][-1]) for f, name in enumerate(self.categorical_names))
        return out

    # -- persistence as plain JSON --------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "numeric_names": self.numeric_names,
                "categorical_names": self.categorical_names, "vocabularies": self.vocabularies,
                "log_scaled": self.log_scaled, "mean": self.mean, "std": self.std,
                "by_source": self.by_source}

    @staticmethod
    def from_state(state: dict[str, Any]) -> StepEncoder:
        """Rebuild an encoder from :meth:`state`; raises ``ValueError`` on anything malformed."""
        if not isinstance(state, dict) or state.get("kind") not in ENCODERS:
            raise ValueError("unknown feature encoder kind")
        encoder = ENCODERS[state["kind"]]()
        names = _strings(state.get("numeric_names"), "numeric_names")
        cats = _strings(state.get("categorical_names"), "categorical_names")
        vocabularies = state.get("vocabularies")
        if not isinstance(vocabularies, list) or len(vocabularies) != len(cats):
            raise ValueError("vocabularies do not match categorical_names")
        numbers = {k: state.get(k) for k in ("mean", "std")}
        for key, values in numbers.items():
            if (not isinstance(values, list) or len(values) != len(names)
                    or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)):
                raise ValueError(f"{key} must be {len(names)} finite numbers")
        log_scaled = state.get("log_scaled")
        if not isinstance(log_scaled, list) or len(log_scaled) != len(names) or not all(
                isinstance(v, bool) for v in log_scaled):
            raise ValueError("log_scaled must be one boolean per numeric feature")
        if not isinstance(state.get("by_source"), bool):
            raise ValueError("by_source must be a boolean")
        encoder.numeric_names, encoder.categorical_names = names, cats
        encoder.vocabularies = [_strings(v, "vocabulary") for v in vocabularies]
        encoder.mean, encoder.std = list(numbers["mean"]), list(numbers["std"])  # type: ignore[arg-type]
        encoder.log_scaled, encoder.by_source = log_scaled, state["by_source"]
        encoder._check_names()
        return encoder

    def _check_names(self) -> None:
        """Names the encoder can compute (a file may not name fields this encoder does not know)."""


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 256 for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return list(value)


class AccessLogEncoder(StepEncoder):
    """Web requests: what was asked, how, by which kind of client, how fast, and what came back."""

    kind = "access_log"
    NUMERIC = ("path_depth", "url_length", "has_query", "query_params", "suspicious_chars", "percent_escapes",
               "response_size", "seconds_since_previous")
    CATEGORICAL = ("http_method", "status_class", "user_agent_category", "user_agent_bucket", "extension")
    IDENTITY = ("user_agent_bucket",)

    def _learn_names(self, events: Sequence[Event]) -> None:
        self.numeric_names, self.categorical_names = list(self.NUMERIC), list(self.CATEGORICAL)

    def applicable(self, events: Sequence[Event]) -> np.ndarray:
        return np.fromiter((bool(e.http_method or e.url) for e in events), dtype=bool, count=len(events))

    def _check_names(self) -> None:
        if self.numeric_names != list(self.NUMERIC) or self.categorical_names != list(self.CATEGORICAL):
            raise ValueError("access_log encoder feature names do not match this version")

    def _raw(self, events: Sequence[Event]) -> tuple[np.ndarray, list[list[str]]]:
        numeric = np.zeros((len(events), len(self.NUMERIC)), dtype=np.float64)
        texts: list[list[str]] = [[] for _ in self.CATEGORICAL]
        for i, e in enumerate(events):
            ext, values = path_features(e.url)
            numeric[i, :6] = values
            numeric[i, 6] = e.bytes_in or 0  # bytes the server sent back to the client
            agent = e.user_agent or ""
            texts[0].append((e.http_method or "none").upper()[:16])
            texts[1].append(f"{e.http_status // 100}xx" if e.http_status else "none")
            texts[2].append(user_agent_category(agent))
            texts[3].append(f"b{zlib.crc32(agent.encode('utf-8', 'replace')) % UA_BUCKETS}")
            texts[4].append(ext or "none")
        numeric[:, 7] = seconds_since_previous(events, self.by_source)
        return numeric, texts


class FlowEncoder(StepEncoder):
    """Flow records: the numeric fields the parser kept (log-scaled counts, rates) and the text fields."""

    kind = "flow"

    def _learn_names(self, events: Sequence[Event]) -> None:
        numeric: Counter[str] = Counter()
        text: Counter[str] = Counter()
        for e in events[:5000]:  # the columns of a format show in its first rows
            for key, value in e.extra.items():
                if key.lower() in _NOT_FEATURES or isinstance(value, bool):
                    continue
                if isinstance(value, (int, float)):
                    numeric[key] += 1
                elif isinstance(value, str):
                    text[key] += 1
        if numeric:
            self.numeric_names = sorted(numeric)
            self.categorical_names = sorted(text)
        else:  # NetFlow, Zeek, Argus ...: the normalised fields
            self.numeric_names = [f"event.{f}" for f in _CORE_NUMERIC]
            self.categorical_names = [f"event.{f}" for f in _CORE_TEXT] + ["event.dst_port"]

    def applicable(self, events: Sequence[Event]) -> np.ndarray:
        """Dataset records: those carrying at least half of the learned columns; otherwise flows (any byte,
        packet or duration figure) that are not web requests."""
        columns = frozenset(n for n in self.numeric_names if not n.startswith("event."))
        if columns:
            need = (len(columns) + 1) // 2
            return np.fromiter((len(e.extra.keys() & columns) >= need for e in events), dtype=bool,
                               count=len(events))
        return np.fromiter((not (e.http_method or e.url)
                            and any(getattr(e, f) is not None for f in _CORE_NUMERIC) for e in events),
                           dtype=bool, count=len(events))

    def _raw(self, events: Sequence[Event]) -> tuple[np.ndarray, list[list[str]]]:
        numeric = np.zeros((len(events), len(self.numeric_names)), dtype=np.float64)
        for j, name in enumerate(self.numeric_names):
            get = _getter(name)
            column = [get(e) for e in events]
            try:  # one C-level conversion per column; None becomes NaN (then 0)
                numeric[:, j] = np.asarray(column, dtype=np.float64)
            except (TypeError, ValueError):  # a text value where a number was: that cell counts as 0
                numeric[:, j] = [v if isinstance(v, (int, float)) else 0.0 for v in column]
        texts = []
        for name in self.categorical_names:
            get = _getter(name)
            texts.append([str(v)[:64] if (v := get(e)) is not None else "none" for e in events])
        return numeric, texts

    def _check_names(self) -> None:
        allowed = {f"event.{f}" for f in (*_CORE_NUMERIC, *_CORE_TEXT, "dst_port")}
        for name in self.numeric_names + self.categorical_names:
            if name.startswith("event.") and name not in allowed:
                raise ValueError(f"flow encoder cannot read field {name[:60]!r}")


def _getter(name: str) -> Callable[[Event], Any]:
    if name.startswith("event."):
        return operator.attrgetter(name[len("event."):])
    return lambda e: e.extra.get(name)


ENCODERS: dict[str, type[StepEncoder]] = {AccessLogEncoder.kind: AccessLogEncoder,
                                          FlowEncoder.kind: FlowEncoder}


def encoder_for(events: Sequence[Event]) -> StepEncoder:
    """The encoder that fits most of the events: web requests or flow records."""
    web = sum(1 for e in events[:1000] if e.http_method or e.url)
    return AccessLogEncoder() if web * 2 > min(len(events), 1000) else FlowEncoder()
