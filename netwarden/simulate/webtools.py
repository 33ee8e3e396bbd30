"""Attacks made by real tools against the test shop (``webshop.Shop``): dirb probing paths with its own word
list, and wfuzz putting its shipped payload lists into parameter values and names, and its
``buffer_overflow`` payload into values. Debian packages ``dirb`` and ``wfuzz`` (``scripts/system-packages``).

Each family runs alone while the shop's label names it, so every request the shop logs in that phase is the
tool's own; wfuzz also marks each with its user agent (``Wfuzz/<version>``), dirb with its fixed one.
Runs are bounded: a word-list slice, a few pages, one or two connections, and a time limit per run.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from netwarden.simulate.webshop import Shape, Shop

DIRB_LIST = Path("/usr/share/dirb/wordlists/common.txt")
WFUZZ_LISTS = Path("/usr/share/wfuzz/wordlist")
# family -> (tool, what it does)
TOOL_FAMILIES = {
    "dirb": ("dirb", "path probing with dirb's common.txt"),
    "wfuzz-xss": ("wfuzz", "Injections/XSS.txt in a parameter value"),
    "wfuzz-attacks": ("wfuzz", "Injections/All_attack.txt (command injection, traversal, SQL, odd values) in a value"),
    "wfuzz-badchars": ("wfuzz", "Injections/bad_chars.txt in a value (tampering)"),
    "wfuzz-names": ("wfuzz", "general/common.txt as parameter names (tampering)"),
    "wfuzz-oversize": ("wfuzz", "buffer_overflow payload, 200 to 6,000 'A's, in a value"),
}
OVERSIZE = (200, 500, 1000, 2500, 6000)


def missing_tools() -> list[str]:
    """The tools (and their word lists) this machine lacks."""
    out = [t for t in ("dirb", "wfuzz") if shutil.which(t) is None]
    if "dirb" not in out and not DIRB_LIST.exists():
        out.append("dirb word lists")
    if "wfuzz" not in out and not (WFUZZ_LISTS / "Injections" / "XSS.txt").exists():
        out.append("wfuzz word lists")
    return out


def _slice(source: Path, limit: int | None, workdir: Path, seed: int) -> Path:
    """``source`` itself, or ``limit`` of its lines picked with ``seed`` (a bounded run)."""
    if limit is None:
        return source
    lines = [w for w in source.read_text(encoding="latin-1").splitlines() if w.strip()]
    picked = sorted(random.Random(seed).sample(range(len(lines)), min(limit, len(lines))))
    out = workdir / f"{source.parent.name}-{source.name}-{limit}-{seed}.txt"
    out.write_text("\n".join(lines[i] for i in picked) + "\n", encoding="latin-1")
    return out


def _run(args: list[str], workdir: Path, timeout: float) -> None:
    try:
        subprocess.run(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        pass  # what the tool sent until then is the traffic we keep


def run_dirb(base_url: str, wordlist: Path, workdir: Path, timeout: float = 300) -> None:
    """dirb on the shop's root and its ``/tienda1/`` directory, no recursion."""
    for start in ("/", "/tienda1/"):
        _run(["dirb", base_url + start, str(wordlist), "-S", "-r", "-w"], workdir, timeout)


def _fuzzed(shape: Shape, i: int, *, name: bool) -> tuple[str, str, str]:
    """(method, path, parameters with FUZZ in the value, or name, of parameter ``i``)."""
    method, path, params = shape
    pieces = [f"FUZZ={v}" if (k == i and name) else f"{n}=FUZZ" if k == i else f"{n}={v}"
              for k, (n, v) in enumerate(params)]
    return method, path, "&".join(pieces)


def run_wfuzz(base_url: str, shape: Shape, i: int, payload: list[str], workdir: Path, *, name: bool = False,
              timeout: float = 300) -> None:
    """wfuzz with ``payload`` (its ``-z`` words) in parameter ``i``'s value (or name), GET or POST."""
    method, path, text = _fuzzed(shape, i, name=name)
    args = ["wfuzz", "-t", "2", "--req-delay", "10", "--conn-delay", "5", "-Z", *payload]
    if method == "POST":
        args += ["-d", text, base_url + path]
    else:
        args += [f"{base_url}{path}?{text}"]
    _run(args, workdir, timeout)


def run_family(family: str, base_url: str, shapes: Sequence[Shape], workdir: Path, *, seed: int,
               pages: int = 3, words: int | None = None, timeout: float = 300) -> None:
    """One tool family against the shop: ``pages`` pages with parameters (picked with ``seed``), each
    fuzzed with ``words`` words of the list (all when None)."""
    if family == "dirb":
        run_dirb(base_url, _slice(DIRB_LIST, words, workdir, seed), workdir, timeout)
        return
    lists = {"wfuzz-xss": "Injections/XSS.txt", "wfuzz-attacks": "Injections/All_attack.txt",
             "wfuzz-badchars": "Injections/bad_chars.txt", "wfuzz-names": "general/common.txt"}
    rng = random.Random(f"{family}:{seed}")
    with_params = sorted({s[1]: s for s in shapes if s[2]}.values())  # one shape per page
    for shape in rng.sample(with_params, min(pages, len(with_params))):
        i = rng.randrange(len(shape[2]))
        if family == "wfuzz-oversize":
            for size in OVERSIZE:
                run_wfuzz(base_url, shape, i, ["-z", f"buffer_overflow,{size}"], workdir, timeout=timeout)
            continue
        wordlist = _slice(WFUZZ_LISTS / lists[family], words, workdir, seed)
        run_wfuzz(base_url, shape, i, ["-z", f"file,{wordlist},urlencode"], workdir,
                  name=family == "wfuzz-names", timeout=timeout)


def run_tools(shop: Shop, shapes: Sequence[Shape], workdir: Path, *, seed: int, pages: int = 3,
              words: int | None = None, timeout: float = 300,
              log: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Every tool family in turn against ``shop`` (a running ``webshop.Shop``), its label set to the family
    while it runs; returns how many requests each family made."""
    counts = {}
    for family in TOOL_FAMILIES:
        shop.label = family
        before = shop.requests
        run_family(family, shop.url, shapes, workdir, seed=seed, pages=pages, words=words, timeout=timeout)
        counts[family] = shop.requests - before
        log(f"webtools: {family}: {counts[family]} requests")
    return counts
