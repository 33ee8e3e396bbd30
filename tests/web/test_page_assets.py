"""Every console page loads the stylesheets and scripts it names (``{% set assets = ... %}`` at the top of its
template, rendered by base.html), in order, each once, and every one of them is served."""

from __future__ import annotations

import re

from tests.web.conftest import Web

# page -> (its own stylesheets, scripts in load order after the site's): what each page needs to work
PAGES = {
    "/": ((), ("/static/vendor/chart.js/dist/chart.umd.js", "/static/js/dashboard.js")),
    "/analysis": (("/static/css/analysis.css",), ("/static/vendor/chart.js/dist/chart.umd.js", "/static/js/analysis.js")),
    "/map": (("/static/css/map.css",),
             ("/static/vendor/topojson-client/dist/topojson-client.min.js", "/static/js/map.js")),
    "/models": (("/static/css/models.css",), ("/static/vendor/chart.js/dist/chart.umd.js", "/static/js/models.js",
                                              "/static/js/model_lab.js")),
    "/alerts": ((), ("/static/js/alerts.js",)),
    "/check": ((), ("/static/js/check.js",)),
    "/rules": ((), ("/static/js/rules.js",)),
    "/settings": ((), ("/static/js/backtest.js", "/static/js/live_settings.js")),
    "/events": ((), ()),
}
SITE = ("/static/vendor/bootstrap/dist/js/bootstrap.bundle.min.js", "/static/js/notify.js", "/static/js/site.js")
SITE_CSS = ("/static/vendor/bootstrap/dist/css/bootstrap.min.css", "/static/css/netwarden.css")


def test_every_page_loads_its_own_assets_once_and_in_order(sqlite_web: Web) -> None:
    client = sqlite_web.client("admin")
    for path, (css, scripts) in PAGES.items():
        page = client.get(path)
        assert page.status_code == 200, path
        loaded = re.findall(r'<script(?: type="module")? src="([^"]+)"></script>', page.text)
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page.text)
        assert loaded == [*SITE, *scripts], path
        assert styles == [*SITE_CSS, *css], path
        for asset in (*scripts, *css):
            assert client.get(asset).status_code == 200, asset
