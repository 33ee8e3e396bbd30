"""The web app on uvicorn, in a thread of its own: what ``netwarden serve`` needs to serve HTTP(S).

    http = HttpServer(app, "127.0.0.1", 0)
    http.start()        # returns once it listens; http.port is the port bound
    http.stop()
"""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI


def endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host or '*'}:{port}"


class HttpServer:
    def __init__(self, app: FastAPI, host: str, port: int, *, tls_cert: str = "", tls_key: str = "") -> None:
        self.host = host
        self.port = port
        self._uvicorn = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, ssl_certfile=tls_cert or None,
            ssl_keyfile=tls_key or None, ws="websockets-sansio" if _has_sansio() else "auto", lifespan="on"))
        self._thread = threading.Thread(target=self._uvicorn.run, name="web", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Listen; OSError when it cannot (the port in use, a bad address or certificate) or not in time."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                raise OSError(f"the web server could not listen on {endpoint(self.host, self.port)}")
            if time.monotonic() > deadline:
                self.stop()
                raise OSError("the web server did not start in time")
            time.sleep(0.02)
        if self.port == 0:  # the port the system chose
            self.port = next(sock.getsockname()[1] for server in self._uvicorn.servers for sock in server.sockets)

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)


def _has_sansio() -> bool:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
        return True
    except ImportError:
        return False
