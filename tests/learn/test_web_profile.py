"""http_profile, the model of normal web requests: learnt from a bounded CSIC 2010 sample, it stays quiet on
held-out normal requests, catches attacks sent to a real shop (loopback), explains itself in words, and
saves as plain JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from netwarden.learn import data
from netwarden.learn.base import Model, create
from netwarden.learn.request_profile import Profile, char_classes, learn_profile, split_request
from netwarden.learn.web_profile import wilson
from netwarden.records import Event
from netwarden.simulate import webshop

pytestmark = pytest.mark.datasets
CSIC_ROWS = 6_000


@pytest.fixture(scope="module")
def csic(datasets: Path) -> tuple[list[Event], list[Event]]:
    events = data.load_file(datasets / "csic-2010" / "normalTrafficTraining.txt.gz", limit=CSIC_ROWS).events
    order = np.random.default_rng(3).permutation(len(events))
    return [events[i] for i in order[:5_000]], [events[i] for i in order[5_000:]]


@pytest.fixture(scope="module")
def model(csic: tuple[list[Event], list[Event]]) -> Model:
    return create("http_profile").fit(csic[0])


def _request(url: str, method: str = "GET", body: str | None = None) -> Event:
    return Event(timestamp=None, source_kind="access_log", http_method=method, url=url,
                 extra={"body": body} if body else {})


def test_raw_http_file_reads_requests_with_their_bodies(csic: tuple[list[Event], list[Event]]) -> None:
    events = csic[0] + csic[1]
    assert len(events) == CSIC_ROWS
    posts = [e for e in events if e.http_method == "POST"]
    assert posts and all(e.extra.get("body") for e in posts)
    assert all(e.url.startswith("/tienda1/") for e in events)  # the absolute target lost its host
    get = next(e for e in events if "?" in e.url)
    method, path, params = split_request(get)
    assert method == "GET" and path.endswith(".jsp") and params


def test_templates_methods_parameters_and_companions_are_learnt() -> None:
    events = [_request(f"/product/{n}?id={n}&view=full&lang={'en' if n % 2 else 'de'}") for n in range(200)]
    profile = learn_profile(events)
    assert list(profile["templates"]) == ["/product/{id}"]
    t = profile["templates"]["/product/{id}"]
    assert t["methods"] == {"GET": 200}
    assert t["params"]["id"]["numeric"] and (t["params"]["id"]["lo"], t["params"]["id"]["hi"]) == (0, 199)
    assert t["params"]["lang"]["enum"] == ["de", "en"]
    assert t["params"]["view"]["with"] == ["id", "lang"]
    slugs = learn_profile([_request(f"/post/story-{n}-of-the-day") for n in range(80)])
    assert list(slugs["templates"]) == ["/post/{name}"]  # a directory of many names is one template


def test_explanations_name_what_was_never_seen() -> None:
    names = ["Vino+Rioja", "Queso", "Vino", "Jamon+Serrano", "Aceite", "Turron", "Chorizo", "Sidra", "Cava",
             "Miel", "Arroz", "Pimenton", "Vinagre", "Azafran"]  # more than an enumeration's handful
    events = [_request(f"/shop/add.jsp?id={n}&precio={n * 10}&nombre={names[n % 14]}") for n in range(300)]
    events += [_request("/shop/add.jsp", "POST", f"id={n}&precio=5&nombre=Queso") for n in range(100)]
    profile = Profile(learn_profile(events))

    def said(url: str, method: str = "GET") -> str:
        return " | ".join(f[2] for f in profile.judge(_request(url, method)))

    assert said("/shop/add.jsp?id=3&precio=10&nombre=Vino") == ""
    assert "parameter `precioA` has never been seen on `/shop/add.jsp`" in said(
        "/shop/add.jsp?id=3&precioA=10&nombre=Vino")
    assert "value of `nombre` has 212 characters, normal ≤ 13" in said(f"/shop/add.jsp?id=3&precio=1&nombre={'A' * 212}")
    assert "PUT never used on this path" in said("/shop/add.jsp?id=3&precio=10&nombre=Vino", "PUT")
    assert "`id` is always a number" in said("/shop/add.jsp?id=3'&precio=10&nombre=Vino")
    assert "characters never seen" in said("/shop/add.jsp?id=3&precio=10&nombre=Vino';--")
    # the character-level model: known characters in an order never seen (names start upper case, then lower)
    shuffled = said("/shop/add.jsp?id=3&precio=10&nombre=vINO")
    assert "value of `nombre` has 4 character pair(s) never seen in it" in shuffled
    assert "characters never seen" not in shuffled
    assert "`precio` is missing; it always comes with `id`" in said("/shop/add.jsp?id=3&nombre=Vino")
    assert "path `/shop/admin.jsp` was never requested" in said("/shop/admin.jsp")
    assert char_classes("Vino Rioja 12'") == "Aaaa Aaaaa 00'"


def test_parameter_given_twice_is_pollution_unless_the_field_repeats_normally() -> None:
    events = [_request("/login.jsp") for _ in range(100)]  # the login page viewed
    users = [a + b for a in ("bob", "al", "mar", "jo", "ann") for b in ("", "7", "x", "ie")]  # no enumeration
    events += [_request("/login.jsp", "POST", f"user={users[n % 20]}&pwd=Secret{n}x") for n in range(200)]
    # searches with quotes; a tag field that repeats its name in normal requests
    words = [f"{c}+{t}" for c in ("red", "%22blue", "o%27neill", "green", "black")
             for t in ("shoes", "shirt%22", "boots")]
    tags = "new sale winter kids men women sport home garden toys books music gift".split()
    events += [_request(f"/search?q={words[n % 15]}&tag={tags[n % 13]}&tag={tags[n % 7]}")
               for n in range(200)]
    profile = Profile(learn_profile(events))

    def said(url: str, method: str = "GET", body: str | None = None) -> str:
        return " | ".join(f[2] for f in profile.judge(_request(url, method, body)))

    polluted = said("/login.jsp", "POST", "user=bob&pwd=Secret1x&user=admin")
    assert polluted == "parameter `user` is given 2 times; on `/login.jsp` it never was repeated"
    assert said("/login.jsp", "POST", "user=bob&pwd=Secret1x") == ""
    assert said("/login.jsp") == ""
    # a field that repeats in normal traffic may repeat more; quotes and typos in a search are no pollution
    assert said("/search?q=%22blue+shoes%22&tag=new&tag=sale&tag=toys") == ""
    assert said("/search?q=rde+shoes&tag=new&tag=sale") == ""
    old = learn_profile(events)  # a profile saved before repetition was learnt does not judge it
    for p in old["templates"]["/login.jsp"]["params"].values():
        del p["repeat"]
    assert Profile(old).judge(_request("/login.jsp", "POST", "user=bob&pwd=Secret1x&user=admin")) == []


def test_parameter_pollution_in_a_csic_login_is_flagged(model: Model, csic) -> None:  # type: ignore[no-untyped-def]
    logins = [e for e in csic[1] if e.http_method == "POST" and e.url.endswith("autenticar.jsp")][:20]
    assert logins
    polluted = [Event(timestamp=None, source_kind="access_log", http_method="POST", url=e.url,
                      extra={"body": e.extra["body"] + "&login=admin"}) for e in logins]
    assert (model.score(polluted) >= model.threshold).all()
    assert (model.score(logins) < model.threshold).mean() >= 0.95


def test_quiet_on_held_out_normal_and_fast_enough_to_run(model: Model, csic) -> None:  # type: ignore[no-untyped-def]
    scores = model.score(csic[1])
    fpr = float((scores >= model.threshold).mean())
    info = model.calibration_info_  # type: ignore[attr-defined]
    assert fpr <= 0.02, fpr
    assert info["train_rows"] + info["calibration_rows"] == 5_000
    lo, hi = info["fpr_95"]
    assert lo <= info["calibrated_fpr"] <= hi <= 0.03


def test_catches_attacks_sent_to_a_real_shop(model: Model, csic, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "shop.jsonl"
    shapes = webshop.shapes_of(csic[0])
    with webshop.Shop(log) as shop:
        shop.label = "normal"
        webshop.send(shop.url, webshop.shapes_of(csic[1][:300]))
        for family in ("probe", "tamper", "oversize", "xss", "cmdi"):
            shop.label = family
            webshop.send(shop.url, webshop.attacks(family, shapes, 20, seed=1))
    events = data.load_file(log, "netwarden").events
    assert len(events) == 400 and {e.label for e in events} == {"normal", "probe", "tamper", "oversize", "xss", "cmdi"}
    scores = model.score(events)
    hit = scores >= model.threshold
    labels = np.array([e.label for e in events])
    assert hit[labels == "normal"].mean() <= 0.02
    for family in ("probe", "oversize", "xss", "cmdi"):
        assert hit[labels == family].mean() >= 0.9, family
    assert hit[labels == "tamper"].mean() >= 0.8
    worst = int(np.argmax(scores))
    explanation = model.explain([events[worst]])[0]
    assert explanation and isinstance(explanation[0].value, str)


def test_attack_generation_is_reproducible(csic) -> None:  # type: ignore[no-untyped-def]
    shapes = webshop.shapes_of(csic[0][:500])
    assert webshop.attacks("xss", shapes, 30, seed=5) == webshop.attacks("xss", shapes, 30, seed=5)
    assert webshop.attacks("xss", shapes, 30, seed=5) != webshop.attacks("xss", shapes, 30, seed=6)
    with pytest.raises(ValueError, match="unknown attack family"):
        webshop.attacks("nope", shapes, 1)


def test_saved_as_plain_json_and_loaded_back(model: Model, csic, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json"]
    json.loads((tmp_path / "m" / "model.json").read_text())
    again = Model.load(tmp_path / "m")
    assert np.array_equal(again.score(csic[1][:200]), model.score(csic[1][:200]))
    not_web = Event(timestamp=None, source_kind="netflow", src_ip="192.0.2.1")
    assert not again.applicable([not_web])[0] and again.score([not_web])[0] == 0.0


def test_wilson_interval() -> None:
    lo, hi = wilson(10, 1000)
    assert lo < 0.01 < hi and hi - lo < 0.015
    assert wilson(0, 0) == (0.0, 1.0)
