"""A worker's small HTTP endpoint: ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` — the same answers
as ``serve`` gives, without the web application."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from netwarden import metrics


class _Handler(BaseHTTPRequestHandler):
    server_version = "netwarden-worker"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, metrics.exposition(), metrics.CONTENT_TYPE)
        elif path == "/healthz":
            self._json(200, {"status": "ok"})
        elif path == "/readyz":
            problems = metrics.readiness()
            self._json(503 if problems else 200,
                       {"status": "not ready", "problems": problems} if problems else {"status": "ready"})
        else:
            self._json(404, {"detail": "not found: /metrics, /healthz or /readyz"})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._answer(status, json.dumps(body).encode(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass  # scraped every few seconds: not worth a log line each


def serve_metrics(host: str, port: int) -> ThreadingHTTPServer:
    """Start the endpoint on a daemon thread; ``.server_address`` has the port chosen for port 0."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
