"""Experiment (issue 13), kept so its figures can be re-made: would a per-parameter character distribution add
detection to http_profile? The profile learns character *classes* (letters, digits) and every other character
itself, seen or unseen, plus class pairs. This adds a finding "value of `q` uses characters rarely seen in it"
for characters a parameter's training values held, but rarely (share below RARE of its characters; with a
second argument, punctuation only), and compares both models, each calibrated its own way at 1 %, on data
neither was tuned to: the 6,000 held-out CSIC normal requests and the real tools' requests of
``bench_webmodel --tools`` (run that first), plus 300 generated requests per family.

``python -m benchmarks.experiment_webchars 1e-3`` / ``python -m benchmarks.experiment_webchars 1e-4 punct``
"""
import json
import math
import sys
from collections import Counter
from pathlib import Path
import numpy as np
from benchmarks.inputs import datasets
from benchmarks import bench_webmodel as bw
from netwarden.learn import web_profile, request_profile as rp
from netwarden.learn.base import create
from netwarden.learn.data import load_file
from netwarden.simulate import webshop

RARE = float(sys.argv[1]) if len(sys.argv) > 1 else 1e-3
PUNCT_ONLY = len(sys.argv) > 2
orig_learn = rp.learn_profile

def learn_with_chars(events):
    d = orig_learn(events)
    finder = rp.Profile(d)
    x = {}
    for e in events:
        _, path, params = rp.split_request(e)
        t = finder.template(path)
        for name, value in params:
            x.setdefault(t, {}).setdefault(name, Counter()).update(value[:rp.MAX_VALUE])
    d["xchars"] = {t: {n: dict(c) for n, c in ps.items()} for t, ps in x.items()}
    return d

class CharProfile(rp.Profile):
    def judge(self, event):
        self._tmpl = self.template(rp._split_raw(event)[1])
        return super().judge(event)
    def _value(self, pname, value, p, f, out):
        super()._value(pname, value, p, f, out)
        if p["numeric"] or f["enum"] is not None:
            return
        counts = self.data["xchars"].get(self._tmpl, {}).get(pname)
        if not counts:
            return
        total = sum(counts.values())
        rare = sorted({c for c in value[:rp.MAX_VALUE] if (PUNCT_ONLY is False or not c.isalnum()) and 0 < counts.get(c, 0) < RARE * total})
        if rare:
            worst = min(counts[c] for c in rare) / total
            out.append(("rare characters", min(rp.CAP, 0.5 * -math.log10(worst) * math.sqrt(len(rare))),
                        f"value of `{pname}` uses characters rarely seen in it: {''.join(rare)[:20]}"))

def run(mode, train, test):
    if mode == "chars":
        web_profile.learn_profile, web_profile.Profile = learn_with_chars, CharProfile
    else:
        web_profile.learn_profile, web_profile.Profile = orig_learn, rp.Profile
    m = create("http_profile").fit(train)
    flagged = m.score(test) >= m.threshold
    return flagged


if __name__ == "__main__":
    events = load_file(datasets() / "csic-2010" / "normalTrafficTraining.txt.gz").events
    order = np.random.default_rng(42).permutation(len(events))
    train = [events[i] for i in order[:30_000]]
    gen = bw.OUT / "generated-seed42.jsonl"
    if not gen.exists():
        shapes = webshop.shapes_of(train)
        with webshop.Shop(gen) as shop:
            for fam in ("probe", "tamper", "oversize", "xss", "cmdi"):
                shop.label = fam
                webshop.send(shop.url, webshop.attacks(fam, shapes, 300, 42))
    test = load_file(bw.OUT / "tools-seed42.jsonl", "netwarden").events + load_file(gen, "netwarden").events
    labels = np.array([e.label for e in test])
    for mode in (("chars",) if PUNCT_ONLY else ("base", "chars")):
        fl = run(mode, train, test)
        m = bw._metrics(labels != "normal", fl, labels)
        print(mode, RARE, json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items() if k != "by_family"}),
              {k: round(v, 4) for k, v in m["by_family"].items()}, flush=True)
