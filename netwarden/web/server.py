"""``netwarden serve`` in one object: the web app (uvicorn), the live collectors and the pipeline.

    server = WebServer(settings, db_url="sqlite:///netwarden.db", port=8080)
    server.start()          # returns once everything listens; server.url, server.syslog_addresses ...
    ...
    server.stop()           # stops the collectors, stores what is pending, saves detector state

Tests start it on port 0 (any free port) with listeners on 127.0.0.1:0.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import uvicorn

from netwarden.store.database import Database
from netwarden.accounts.users import ensure_first_admin
from netwarden.web.app import create_app
from netwarden.web.runtime import ListenerInfo, Runtime

log = logging.getLogger(__name__)


# a browser is watching: cut batches sooner than the command-line listeners do (0.25 s), busy or not
LIVE_DELAY = 0.1


class ServerError(RuntimeError):
    """The server could not start (a port in use, a bad address or certificate); the message says which."""


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host or '*'}:{port}"


class WebServer:
    def __init__(self, settings: Any, *, db_url: str | None = None, host: str | None = None,
                 port: int | None = None, syslog_udp: list[str] | None = None, syslog_tcp: list[str] | None = None,
                 netflow_udp: list[str] | None = None, use_writer_process: bool = True) -> None:
        self.settings = settings
        self.db_url = db_url or settings.database.url
        self.host = host if host is not None else settings.web.host
        self.port = port if port is not None else settings.web.port
        self.syslog_udp = settings.web.syslog_udp if syslog_udp is None else syslog_udp
        self.syslog_tcp = settings.web.syslog_tcp if syslog_tcp is None else syslog_tcp
        self.netflow_udp = settings.web.netflow_udp if netflow_udp is None else netflow_udp
        given = {"syslog_udp": syslog_udp, "syslog_tcp": syslog_tcp, "netflow_udp": netflow_udp}
        self._given = {name for name, value in given.items() if value is not None}  # else from the settings
        self.use_writer_process = use_writer_process
        self.db: Database | None = None
        self.runtime: Runtime | None = None
        self.first_admin_password: str | None = None
        self.syslog_addresses: list[tuple[str, str, int]] = []  # (udp|tcp, host, port) as bound
        self.netflow_addresses: list[tuple[str, int]] = []
        self._streams: list[Any] = []
        self._sources: list[Any] = []
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._reports: Any = None  # the report scheduler (netwarden.report.schedule)

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.web.tls_cert else "http"
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"{scheme}://{_endpoint(host, self.port)}"

    def start(self, timeout: float = 30.0) -> None:
        from netwarden.collect import netflow, syslog_server
        from netwarden.pipeline import Pipeline
        from netwarden.stream import LiveStream

        from netwarden.web.live_settings import overlay

        self.db = Database.open(self.db_url)
        self.first_admin_password = ensure_first_admin(self.db)
        file_settings = overlay(self.db, self.settings)  # changes made in the web app, before anything starts
        for name in ("syslog_udp", "syslog_tcp", "netflow_udp"):
            if name not in self._given:
                setattr(self, name, getattr(self.settings.web, name))
        pipeline = Pipeline.from_settings(self.db, self.settings)
        self.runtime = Runtime(self.db, self.settings)
        self.runtime.extras["file_settings"] = file_settings
        self.runtime.attach(pipeline)
        try:
            udp = [syslog_server.parse_address(a) for a in self.syslog_udp]
            tcp = [syslog_server.parse_address(a) for a in self.syslog_tcp]
            flows = [netflow.parse_address(a, netflow.DEFAULT_PORT) for a in self.netflow_udp]
        except ValueError as exc:
            raise ServerError(f"listener address: {exc}") from None
        try:
            if udp or tcp:
                stream = LiveStream(pipeline, fmt="syslog", source="syslog", use_process=self.use_writer_process,
                                    max_delay=LIVE_DELAY)
                self._streams.append(stream)
                server = syslog_server.SyslogServer(stream, syslog_server.SyslogServerConfig(
                    udp=udp, tcp=tcp, max_connections_per_address=self.settings.web.syslog_max_per_address,
                    first_message_timeout=self.settings.web.syslog_first_message_seconds))
                server.start()
                self._sources.append(server)
                self.syslog_addresses = list(server.addresses)
                for kind, host, port in server.addresses:
                    self.runtime.listeners.append(ListenerInfo(f"syslog {kind}", _endpoint(host, port),
                                                               lambda s=stream: _stream_status(s)))
            if flows:
                stream = LiveStream(pipeline, fmt=None, source="netflow", use_process=self.use_writer_process,
                                    max_delay=LIVE_DELAY)
                self._streams.append(stream)
                listener = netflow.NetflowListener(stream, flows)
                listener.start()
                self._sources.append(listener)
                self.netflow_addresses = list(listener.addresses)
                for host, port in listener.addresses:
                    self.runtime.listeners.append(ListenerInfo("netflow udp", _endpoint(host, port),
                                                               lambda s=stream: _stream_status(s)))
            self._start_web(timeout)
            from netwarden.report.schedule import ReportScheduler

            self._reports = ReportScheduler(self.db, self.settings).start()
        except (OSError, ValueError) as exc:
            self.stop()
            raise ServerError(f"cannot listen: {exc}") from None

    def _start_web(self, timeout: float) -> None:
        assert self.db is not None and self.runtime is not None
        app = create_app(self.settings, self.db, runtime=self.runtime)
        web = self.settings.web
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", access_log=False,
                                ssl_certfile=web.tls_cert or None, ssl_keyfile=web.tls_key or None,
                                ws="websockets-sansio" if _has_sansio() else "auto", lifespan="on")
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                raise OSError(f"the web server could not listen on {_endpoint(self.host, self.port)}")
            if time.monotonic() > deadline:
                raise OSError("the web server did not start in time")
            time.sleep(0.02)
        if self.port == 0:  # the port the system chose
            for server in self._uvicorn.servers:
                for sock in server.sockets:
                    self.port = sock.getsockname()[1]
                    break

    def stop(self) -> None:
        """Stop everything, in order: reports, web, collectors, streams (storing what is pending), pipeline,
        database."""
        if self._reports is not None:
            self._reports.stop()
            self._reports = None
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            if self._thread is not None:
                self._thread.join(10)
            self._uvicorn = None
        for source in self._sources:
            source.stop()
        self._sources = []
        errors = []
        for stream in self._streams:
            try:
                stream.close()
            except Exception as exc:  # reported once everything is stopped
                errors.append(exc)
        self._streams = []
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
        if self.db is not None:
            self.db.close()
            self.db = None
        if errors:
            raise ServerError(f"storing failed: {errors[0]}")

    def __enter__(self) -> WebServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stream_status(stream: Any) -> dict[str, int]:
    s = stream.stats
    return {"received": s.total("received"), "stored": s.total("events"), "quarantined": s.total("quarantined"),
            "dropped": s.total("dropped")}


def _has_sansio() -> bool:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
        return True
    except ImportError:
        return False
