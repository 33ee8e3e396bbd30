"""``netwarden serve`` assembled in one place: the database (and the first admin), the pipeline with
detection and response, the live collectors that feed it (syslog over UDP/TCP, NetFlow/IPFIX), the report
scheduler, and the web app (:mod:`netwarden.web`, which only serves HTTP).

    server = Server(settings, db_url="sqlite:///netwarden.db", port=8080)
    server.start()          # returns once everything listens: server.url, server.syslog_addresses ...
    ...
    server.stop()           # stops the collectors, stores what is pending, saves detector state

Tests start it on port 0 (any free port) with listeners on 127.0.0.1:0.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netwarden.accounts.users import ensure_first_admin
from netwarden.store.database import Database
from netwarden.web.http import HttpServer, endpoint
from netwarden.web.live import LiveHub
from netwarden.web.readers import Readers
from netwarden.web.runtime import ListenerInfo, Runtime

if TYPE_CHECKING:
    from netwarden.bus.produce import BusPipeline
    from netwarden.pipeline import Pipeline

# a browser is watching: cut batches sooner than the command-line listeners do (0.25 s), busy or not
LIVE_DELAY = 0.1
LISTENERS = ("syslog_udp", "syslog_tcp", "netflow_udp")  # [web] settings, each a list of HOST:PORT


class ServerError(RuntimeError):
    """The server could not start (a port in use, a bad address or certificate) or could not store what was
    pending at the stop; the message says which."""


@dataclass
class _Collectors:
    """The live listeners and the streams they feed (each stream batches into the pipeline)."""

    sources: list[Any] = field(default_factory=list)
    streams: list[Any] = field(default_factory=list)  # netwarden LiveStream
    syslog_addresses: list[tuple[str, str, int]] = field(default_factory=list)  # (udp|tcp, host, port) bound
    netflow_addresses: list[tuple[str, int]] = field(default_factory=list)

    def close(self) -> None:
        """Stop the listeners, then store what the streams hold; a storing error is raised once all stopped."""
        for source in self.sources:
            source.stop()
        errors = []
        for stream in self.streams:
            try:
                stream.close()
            except Exception as exc:  # reported once everything is stopped
                errors.append(exc)
        if errors:
            raise ServerError(f"storing failed: {errors[0]}")


@dataclass
class _Running:
    db: Database
    runtime: Runtime
    collectors: _Collectors
    http: HttpServer
    first_admin_password: str | None
    stack: ExitStack  # everything started, stopped in the reverse order
    feed: Pipeline  # what the collectors feed: the pipeline, or with a [bus] the BusPipeline that publishes
    listening: dict[str, list[str]] = field(default_factory=dict)  # the listeners' addresses as asked


class Server:
    def __init__(self, settings: Any, *, db_url: str | None = None, host: str | None = None,
                 port: int | None = None, syslog_udp: list[str] | None = None, syslog_tcp: list[str] | None = None,
                 netflow_udp: list[str] | None = None, use_writer_process: bool = True,
                 web_only: bool = False, readers: int = 0) -> None:
        self.settings = settings
        self.web_only = web_only  # no collectors (with a [bus]: the live feed comes from the workers)
        self.db_url = db_url or settings.database.url
        self.host = host if host is not None else settings.web.host
        self._port = port if port is not None else settings.web.port
        # None: the settings in force at the start (the file's, or what the web app stored over it)
        self._listen: dict[str, list[str] | None] = {"syslog_udp": syslog_udp, "syslog_tcp": syslog_tcp,
                                                     "netflow_udp": netflow_udp}
        self.use_writer_process = use_writer_process
        self.readers = readers  # processes answering the hot read-only API requests (netwarden.web.readers)
        self._running: _Running | None = None
        self._relisten = threading.Lock()  # one change of listeners at a time

    # -- what a started server has -------------------------------------------------------------------------

    @property
    def db(self) -> Database | None:
        return self._running.db if self._running else None

    @property
    def runtime(self) -> Runtime | None:
        return self._running.runtime if self._running else None

    @property
    def first_admin_password(self) -> str | None:
        """The one-time password of the ``admin`` created at the first start on an empty database."""
        return self._running.first_admin_password if self._running else None

    @property
    def syslog_addresses(self) -> list[tuple[str, str, int]]:
        return self._running.collectors.syslog_addresses if self._running else []

    @property
    def netflow_addresses(self) -> list[tuple[str, int]]:
        return self._running.collectors.netflow_addresses if self._running else []

    @property
    def port(self) -> int:
        return self._running.http.port if self._running else self._port

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.web.tls_cert else "http"
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"{scheme}://{endpoint(host, self.port)}"

    def storage_errors(self) -> list[str]:
        """What the live streams failed to store since the last call (each error said once)."""
        found = []
        for stream in self._running.collectors.streams if self._running else []:
            if stream.last_error is not None:
                found.append(str(stream.last_error))
                stream.last_error = None
        return found

    # -- start and stop ------------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        from netwarden.web.app import create_app
        from netwarden.web.live_settings import overlay

        stack = ExitStack()
        db = Database.open(self.db_url)
        stack.callback(db.close)
        try:
            first_admin_password = ensure_first_admin(db)
            file_settings = overlay(db, self.settings)  # changes made in the web app, before anything starts
            listen: dict[str, list[str]] = {}
            for name in LISTENERS:
                asked = self._listen[name]
                listen[name] = asked if asked is not None else getattr(self.settings.web, name)
            # the web app's listener settings are applied live through listen_on
            hub = LiveHub()
            bus_feed: BusPipeline | None = None
            sweep_gate: Callable[[], bool] | None = None
            if self.settings.bus.url:  # collectors publish, workers detect and store (netwarden.bus)
                from netwarden.bus.attach import attach_bus

                attached = attach_bus(self.settings, db, hub, stack)
                bus_feed, sweep_gate = attached.intake, attached.sweep_gate
            runtime = Runtime(db, self.settings, hub=hub, intake=bus_feed, sweep_gate=sweep_gate,
                              file_settings=file_settings, listen_on=self.listen_on)
            pipeline = runtime.build_pipeline()
            feed = bus_feed if bus_feed is not None else pipeline
            stack.callback(runtime.close)
            collectors = _Collectors()
            stack.callback(collectors.close)
            if not self.web_only:
                self._collect(runtime, collectors, listen, feed)
            web = self.settings.web
            readers = Readers(self.db_url, self.readers).start()
            stack.callback(readers.close)  # after the web server stopped: no request waits for them
            http = HttpServer(create_app(self.settings, db, runtime=runtime, readers=readers), self.host, self._port,
                              tls_cert=web.tls_cert, tls_key=web.tls_key)
            http.start(timeout)
            stack.callback(http.stop)
            from netwarden.report.schedule import ReportScheduler

            stack.callback(ReportScheduler(db, self.settings).start().stop)
        except (OSError, ValueError) as exc:
            stack.close()
            raise ServerError(f"cannot listen: {exc}") from None
        except BaseException:
            stack.close()
            raise
        self._running = _Running(db, runtime, collectors, http, first_admin_password, stack, feed, listen)

    def listen_on(self, listen: dict[str, list[str]]) -> None:
        """New listener addresses while running (Settings in the web app): the listeners stop (what they
        received is stored), then listen on the new addresses. If one cannot listen (a port in use), the
        previous addresses are restored and ServerError says why."""
        running = self._running
        if running is None:
            raise ServerError("the server is not running")
        if self.web_only:
            raise ServerError("this web process runs no listeners (serve --web-only): change the collectors' settings")
        wanted = {**running.listening, **listen}
        with self._relisten:
            self._stop_collectors(running)
            try:
                self._collect(running.runtime, running.collectors, wanted, running.feed)
            except (OSError, ValueError, ServerError) as exc:
                self._stop_collectors(running)
                self._collect(running.runtime, running.collectors, running.listening, running.feed)
                raise ServerError(f"cannot listen: {str(exc).removeprefix('cannot listen: ')}") from None
            running.listening = wanted

    @staticmethod
    def _stop_collectors(running: _Running) -> None:
        collectors = running.collectors
        try:
            collectors.close()
        finally:
            collectors.sources.clear()
            collectors.streams.clear()
            collectors.syslog_addresses, collectors.netflow_addresses = [], []
            running.runtime.listeners.clear()

    def _collect(self, runtime: Runtime, collectors: _Collectors, listen: dict[str, list[str]],
                 feed: Pipeline) -> None:
        """Start the syslog and NetFlow listeners, each feeding ``feed`` (the pipeline or, with a [bus], the
        bus) through its own live stream."""
        from netwarden.collect import netflow, syslog_server
        from netwarden.endpoints import parse_address
        from netwarden.pipeline import LiveStream

        try:
            udp = [parse_address(a, syslog_server.DEFAULT_PORT) for a in listen["syslog_udp"]]
            tcp = [parse_address(a, syslog_server.DEFAULT_PORT) for a in listen["syslog_tcp"]]
            flows = [parse_address(a, netflow.DEFAULT_PORT) for a in listen["netflow_udp"]]
        except ValueError as exc:
            raise ServerError(f"listener address: {exc}") from None
        web = self.settings.web
        if udp or tcp:
            stream = LiveStream(feed, fmt="syslog", source="syslog", max_delay=LIVE_DELAY,
                                use_process=self.use_writer_process and feed is runtime.pipeline)
            collectors.streams.append(stream)
            server = syslog_server.SyslogServer(stream, syslog_server.SyslogServerConfig(
                udp=udp, tcp=tcp, max_connections_per_address=web.syslog_max_per_address,
                first_message_timeout=web.syslog_first_message_seconds))
            server.start()
            collectors.sources.append(server)
            collectors.syslog_addresses = list(server.addresses)
            for kind, host, port in server.addresses:
                runtime.listeners.append(ListenerInfo(f"syslog {kind}", endpoint(host, port),
                                                      lambda s=stream: _stream_status(s)))
        if flows:
            stream = LiveStream(feed, fmt=None, source="netflow", max_delay=LIVE_DELAY,
                                use_process=self.use_writer_process and feed is runtime.pipeline)
            collectors.streams.append(stream)
            listener = netflow.NetflowListener(stream, flows)
            listener.start()
            collectors.sources.append(listener)
            collectors.netflow_addresses = list(listener.addresses)
            for host, port in listener.addresses:
                runtime.listeners.append(ListenerInfo("netflow udp", endpoint(host, port),
                                                      lambda s=stream: _stream_status(s)))

    def stop(self) -> None:
        """Stop everything, in order: reports, web, collectors, streams (storing what is pending), pipeline,
        database. ServerError when something pending could not be stored."""
        running, self._running = self._running, None
        if running is not None:
            running.stack.close()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stream_status(stream: Any) -> dict[str, int]:
    s = stream.stats
    return {"received": s.total("received"), "stored": s.total("events"), "quarantined": s.total("quarantined"),
            "dropped": s.total("dropped")}
