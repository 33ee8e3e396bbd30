"""The profile behind the ``http_profile`` model family (``web_profile.py``): a site's normal HTTP requests per
path template, learned from events (:func:`learn_profile`), and how surprising each part of a new request
is (:meth:`Profile.judge`). The family adds the calibration, scores and explanations."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from netwarden.records import Event

MAX_TRACKED_VALUES = 64  # distinct values remembered per parameter (beyond: not an enumeration)
ENUM_MAX = 12  # a parameter with at most this many distinct values, each seen often, is an enumeration
ENUM_MIN_SEEN = 30
MAX_CHILDREN = 50  # a directory with more distinct names below it becomes a {name} template
MAX_PARAMS_PER_TEMPLATE = 200
MAX_VALUE = 512  # characters of a value examined for characters and pairs (the length is always judged)
CAP = 6.0
CACHE_SIZE = 100_000  # (path, parameter, value) verdicts remembered: most normal values repeat
CACHED_VALUE = 256  # longer values are judged every time  # no single finding outweighs this many "nines" of surprise

_NUMBER = re.compile(r"^-?[0-9]{1,18}(?:\.[0-9]{1,12})?$")
_ID_SEGMENT = re.compile(r"^(?:[0-9]+|[0-9a-fA-F]{16,}|[0-9a-fA-F-]{36})$")


def _class_table() -> dict[int, str]:
    table = {}
    for code in range(256):
        ch = chr(code)
        if "a" <= ch <= "z" or (ch.isalpha() and ch.islower()):
            table[code] = "a"
        elif "A" <= ch <= "Z" or (ch.isalpha() and ch.isupper()):
            table[code] = "A"
        elif "0" <= ch <= "9":
            table[code] = "0"
    return table


CLASSES = _class_table()


def char_classes(text: str) -> str:
    """``"Vino Rioja 12'"`` -> ``"Aaaa Aaaaa 00'"``: letters and digits by class, everything else itself."""
    return text.translate(CLASSES)


def split_request(event: Event) -> tuple[str, str, list[tuple[str, str]]]:
    """(method, decoded path, [(name, decoded value)]) from the URL and a form body in ``extra["body"]``."""
    method, path, raw = _split_raw(event)
    return method, path, [(_decode(name), _decode(value)) for name, value in raw]


def _split_raw(event: Event) -> tuple[str, str, list[tuple[str, str]]]:
    """Like :func:`split_request`, parameters still encoded: scoring decodes only what its caches miss."""
    url = event.url or "/"
    path, _, query = url.partition("?")
    path = path.partition("#")[0]
    body = event.extra.get("body") if event.extra else None
    params = _pieces(query) if query else []
    if body and isinstance(body, str):
        params += _pieces(body)
    return (event.http_method or "-").upper(), _decode(path) or "/", params


def _pieces(text: str) -> list[tuple[str, str]]:
    return [(name, value) for name, _, value in (piece.partition("=") for piece in text.split("&") if piece)]


_HEX = {a + b: chr(int(a + b, 16)) for a in "0123456789abcdefABCDEF" for b in "0123456789abcdefABCDEF"}


def _decode(text: str) -> str:
    """``unquote_plus(text, encoding="latin-1")``, about twice as fast (every byte is one character in
    Latin-1, so each ``%XX`` maps to one character; a ``%`` not followed by two hex digits stays)."""
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    parts = text.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        ch = _HEX.get(part[:2])
        out.append(ch + part[2:] if ch is not None else "%" + part)
    return "".join(out)


def _segments(path: str) -> list[str]:
    return ["{id}" if _ID_SEGMENT.match(s) else s for s in path.split("/")]


def _surprise(distinct: int, seen: int) -> float:
    """How surprising a novelty is where ``seen`` observations showed ``distinct`` different things
    (Good-Turing-like: new things are likely where many distinct ones were already seen)."""
    return min(CAP, -math.log10((distinct + 1) / (seen + distinct + 1)))


class _Param:
    __slots__ = ("bigrams", "chars", "count", "lengths", "max_len", "numeric", "lo", "hi", "values", "repeat")

    def __init__(self) -> None:
        self.count = 0
        self.numeric = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.max_len = 0
        self.lengths: Counter[int] = Counter()
        self.chars: Counter[str] = Counter()
        self.bigrams: set[str] = set()
        self.values: Counter[str] | None = Counter()
        self.repeat = 1  # the most times it was given in one request (multi-valued fields repeat their name)

    def add(self, value: str) -> None:
        self.count += 1
        self.lengths[len(value)] += 1
        self.max_len = max(self.max_len, len(value))
        if _NUMBER.match(value):
            self.numeric += 1
            number = float(value)
            self.lo, self.hi = min(self.lo, number), max(self.hi, number)
        classes = char_classes(value[:MAX_VALUE])
        self.chars.update(classes)
        marked = f"^{classes}$"
        self.bigrams.update(map(str.__add__, marked[:-1], marked[1:]))
        if self.values is not None:
            self.values[value] += 1
            if len(self.values) > MAX_TRACKED_VALUES:
                self.values = None

    def to_dict(self) -> dict[str, Any]:
        enum = None
        if self.values is not None and len(self.values) <= ENUM_MAX and self.count >= ENUM_MIN_SEEN:
            enum = sorted(self.values)
        return {"count": self.count, "numeric": self.numeric == self.count and self.count > 0,
                "lo": self.lo if self.numeric else None, "hi": self.hi if self.numeric else None,
                "max_len": self.max_len, "len_p99": _quantile(self.lengths, 0.99),
                "chars": dict(self.chars), "bigrams": sorted(self.bigrams), "enum": enum,
                "repeat": self.repeat}


def _quantile(counts: Counter[int], q: float) -> int:
    total = sum(counts.values())
    running = 0
    for value in sorted(counts):
        running += counts[value]
        if running >= q * total:
            return value
    return 0


class Profile:
    """What the model learned, as plain data, with the fast lookups scoring needs."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.templates: dict[str, dict[str, Any]] = data["templates"]
        self.wildcards: set[str] = set(data["wildcards"])
        self.requests: int = data["requests"]
        self.methods: Counter[str] = Counter(data["methods"])
        self.new_template = _surprise(len(self.templates), self.requests)
        self._cache: dict[tuple[str, str, str], list[tuple[str, float, str]]] = {}
        self._names: dict[str, str] = {}  # encoded parameter name -> decoded
        # derived lookups, kept apart from the saved data (a parameter or a character may start with "_")
        self.fast: dict[str, dict[str, Any]] = {}
        for name, t in self.templates.items():
            params = {}
            for pname, p in t["params"].items():
                params[pname] = {"bigrams": frozenset(p["bigrams"]), "chars": frozenset(p["chars"]),
                                 "enum": frozenset(p["enum"]) if p["enum"] is not None else None,
                                 "new_char": _surprise(len(p["chars"]), sum(p["chars"].values())),
                                 "new_bigram": _surprise(len(p["bigrams"]), max(1, sum(p["chars"].values()))),
                                 # profiles saved before "repeat" was learned do not judge repetition
                                 "repeated": _surprise(1, p["count"]) if p.get("repeat") == 1 else None}
            self.fast[name] = {"methods": set(t["methods"]), "params": params,
                               "new_param": _surprise(len(t["params"]), t["count"]),
                               "new_method": _surprise(len(t["methods"]), t["count"])}

    def template(self, path: str) -> str:
        segments = _segments(path)
        for i in range(len(segments) - 1, 0, -1):  # the deepest directory that is a wildcard wins
            if "/".join(segments[:i]) in self.wildcards:
                segments[i] = "{name}" + _extension(segments[i])
                break
        return "/".join(segments)

    def judge(self, event: Event) -> list[tuple[str, float, str]]:
        """Findings for one request: (kind, surprise, sentence)."""
        method, path, raw = _split_raw(event)
        name = self.template(path)
        t = self.templates.get(name)
        fast = self.fast.get(name)
        if t is None or fast is None:
            return [("unseen path", self.new_template,
                     f"path `{_short(name)}` was never requested ({len(self.templates)} known paths)")]
        out: list[tuple[str, float, str]] = []
        if method not in fast["methods"]:
            known = ", ".join(sorted(t["methods"]))
            out.append(("unseen method", fast["new_method"] if method in self.methods else CAP,
                        f"{_short(method, 16)} never used on this path (seen: {known})"))
        present: dict[str, None] = {}  # in request order: the explanation names the same companion every time
        names = self._names
        for raw_name, raw_value in raw:
            pname = names.get(raw_name)
            if pname is None:
                pname = _decode(raw_name)
                if len(names) < CACHE_SIZE:
                    names[raw_name] = pname
            present[pname] = None
            p = t["params"].get(pname)
            if p is None:
                out.append(("unseen parameter", fast["new_param"],
                            f"parameter `{_short(pname, 40)}` has never been seen on `{_short(name)}`"))
                continue
            if len(raw_value) > CACHED_VALUE:
                self._value(pname, _decode(raw_value), p, fast["params"][pname], out)
                continue
            key = (name, pname, raw_value)  # still encoded: a repeated value is neither decoded nor judged again
            found = self._cache.get(key)
            if found is None:
                found = []
                self._value(pname, _decode(raw_value), p, fast["params"][pname], found)
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()  # crude but bounded; normal traffic refills it with what repeats
                self._cache[key] = found
            out += found
        if len(present) < len(raw):  # a name given twice: rare, so counted only then
            _repeated(raw, names, name, fast["params"], out)
        for pname in present:
            p = t["params"].get(pname)
            if p is not None and p["with"]:
                missing = [m for m in p["with"] if m not in present]
                if missing:
                    out.append(("missing companion", 1.0 + 0.5 * min(len(missing), 4),
                                f"parameter `{_short(missing[0], 40)}` is missing; it always comes with "
                                f"`{_short(pname, 40)}`"))
                    break
        return out

    def _value(self, pname: str, value: str, p: dict[str, Any], f: dict[str, Any],
               out: list[tuple[str, float, str]]) -> None:
        n = len(value)
        if n > p["max_len"]:
            # how far beyond the longest normal value, in doublings: a few characters more is mild
            weight = min(CAP, 1.0 + 2.0 * math.log2((n + 1) / (p["max_len"] + 1)))
            out.append(("long value", weight, f"value of `{_short(pname, 40)}` has {n} characters, normal ≤ "
                                              f"{p['max_len']}"))
        if f["enum"] is not None and value not in f["enum"]:
            out.append(("unseen value", _surprise(len(f["enum"]), p["count"]),
                        f"`{_short(pname, 40)}` = `{_short(value, 40)}` is not one of its "
                        f"{len(f['enum'])} usual values"))
            return
        if p["numeric"]:
            if not _NUMBER.match(value):
                out.append(("not a number", _surprise(1, p["count"]),
                            f"`{_short(pname, 40)}` is always a number; here `{_short(value, 40)}`"))
                return
            number = float(value)
            lo, hi = p["lo"], p["hi"]
            span = max(hi - lo, 1.0)
            if number < lo - span or number > hi + span:
                out.append(("out of range", 2.0, f"`{_short(pname, 40)}` = {_short(value, 24)}, normal "
                                                 f"{_num(lo)}..{_num(hi)}"))
            return
        classes = char_classes(value[:MAX_VALUE])
        unseen = sorted(set(classes) - f["chars"])
        if unseen:
            weight = min(CAP, f["new_char"] * (1 + 0.5 * (len(unseen) - 1)))
            shown = " ".join(repr(c)[1:-1] for c in unseen[:8])
            out.append(("unseen characters", weight,
                        f"value of `{_short(pname, 40)}` has characters never seen in it: {_short(shown, 60)}"))
        marked = f"^{classes}$"
        known = f["bigrams"]
        new = set(map(str.__add__, marked[:-1], marked[1:])) - known  # the character-class pairs
        if new:
            weight = min(CAP, 0.5 * f["new_bigram"] * math.sqrt(len(new)))
            out.append(("unusual character sequence", weight,
                        f"value of `{_short(pname, 40)}` has {len(new)} character pair(s) never seen in it, "
                        f"e.g. {_short(repr(sorted(new)[0])[1:-1], 12)}"))


def _repeated(raw: list[tuple[str, str]], names: dict[str, str], template: str, params: dict[str, Any],
              out: list[tuple[str, float, str]]) -> None:
    """Parameter pollution: a parameter given more than once where normal requests never repeated it
    (the application may read the first, its firewall the last)."""
    counts = Counter(names.get(raw_name) or _decode(raw_name) for raw_name, _ in raw)
    for pname, times in counts.items():
        weight = params[pname]["repeated"] if times > 1 and pname in params else None
        if weight is not None:
            out.append(("repeated parameter", weight,
                        f"parameter `{_short(pname, 40)}` is given {times} times; on `{_short(template)}` "
                        "it never was repeated"))


def _extension(segment: str) -> str:
    _, dot, ext = segment.rpartition(".")
    return f".{ext}" if dot and ext.isalnum() and len(ext) <= 5 else ""


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def learn_profile(events: Sequence[Event]) -> dict[str, Any]:
    """The profile (plain JSON) of ``events``, all taken as normal."""
    requests = [split_request(e) for e in events]
    children: dict[str, set[str]] = {}
    for _, path, _ in requests:
        segments = _segments(path)
        for i in range(1, len(segments)):
            kids = children.setdefault("/".join(segments[:i]), set())
            if len(kids) <= MAX_CHILDREN:
                kids.add(segments[i])
    wildcards = sorted(d for d, kids in children.items() if len(kids) > MAX_CHILDREN)
    finder = Profile({"templates": {}, "wildcards": wildcards, "requests": 0, "methods": {}})
    templates: dict[str, dict[str, Any]] = {}
    methods: Counter[str] = Counter()
    for method, path, params in requests:
        name = finder.template(path)
        t = templates.setdefault(name, {"count": 0, "methods": Counter(), "params": {}, "with": {}})
        t["count"] += 1
        t["methods"][method] += 1
        methods[method] += 1
        names = {n for n, _ in params}
        if len(names) < len(params):
            for pname, times in Counter(n for n, _ in params).items():
                if times > 1 and pname in t["params"]:
                    t["params"][pname].repeat = max(t["params"][pname].repeat, times)
        for pname, value in params:
            p = t["params"].get(pname)
            if p is None:
                if len(t["params"]) >= MAX_PARAMS_PER_TEMPLATE:
                    continue
                p = t["params"][pname] = _Param()
            p.add(value)
        for pname in names:
            if pname in t["with"]:
                t["with"][pname] &= names
            elif pname in t["params"]:
                t["with"][pname] = set(names)
    out = {}
    for name, t in templates.items():
        params = {}
        for pname, p in t["params"].items():
            d = p.to_dict()
            # "always comes with": seen together every time, and often enough to mean it
            d["with"] = sorted(t["with"].get(pname, set()) - {pname}) if p.count >= 10 else []
            params[pname] = d
        out[name] = {"count": t["count"], "methods": dict(t["methods"]), "params": params}
    return {"templates": out, "wildcards": wildcards, "requests": len(requests), "methods": dict(methods)}
