"""http_profile against attacks made by real tools (dirb, wfuzz) on the test shop, on loopback: each tool's
requests are caught at a high rate while held-out normal CSIC requests, replayed through the same shop, are
rarely flagged. Bounded: word-list slices, one page per wfuzz family, a time limit per tool run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from netwarden.learn import data
from netwarden.learn.base import create
from netwarden.simulate import webshop, webtools

pytestmark = pytest.mark.datasets
MISSING = webtools.missing_tools()
# lowest share caught per family: wfuzz's All_attack.txt also holds plain words ("TRUE", "0") a normal value
# may be, so its bar is lower
RECALL = {"dirb": 0.95, "wfuzz-xss": 0.95, "wfuzz-attacks": 0.7, "wfuzz-badchars": 0.8, "wfuzz-names": 0.95,
          "wfuzz-oversize": 0.95}


@pytest.mark.skipif(bool(MISSING), reason=f"missing {', '.join(MISSING)} (scripts/system-packages installs them)")
def test_real_tools_are_caught_and_normal_requests_pass(datasets: Path, tmp_path: Path) -> None:
    events = data.load_file(datasets / "csic-2010" / "normalTrafficTraining.txt.gz", limit=4_000).events
    train, held = events[:3_400], events[3_400:]
    model = create("http_profile").fit(train)
    log = tmp_path / "shop.jsonl"
    with webshop.Shop(log) as shop:
        webshop.send(shop.url, webshop.shapes_of(held))
        counts = webtools.run_tools(shop, webshop.shapes_of(train), tmp_path, seed=3, pages=1, words=25,
                                    timeout=90)
    tested = data.load_file(log, "netwarden").events
    labels = np.array([e.label for e in tested])
    flagged = model.score(tested) >= model.threshold
    assert counts["dirb"] >= 25 and all(counts[f] >= 5 for f in webtools.TOOL_FAMILIES), counts
    agents = {e.label: e.user_agent for e in tested}
    assert all(agents[f].startswith("Wfuzz/") for f in webtools.TOOL_FAMILIES if f.startswith("wfuzz"))
    normal = flagged[labels == "normal"]
    assert len(normal) == 600 and normal.mean() <= 0.03, normal.mean()
    caught = {f: float(flagged[labels == f].mean()) for f in webtools.TOOL_FAMILIES}
    assert all(caught[f] >= RECALL[f] for f in RECALL), caught
