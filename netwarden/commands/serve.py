"""``netwarden serve``: the web application, the live collectors and the pipeline in one process."""

from __future__ import annotations

import click

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.running import stop_signals
from netwarden.commands.shared.terminal import fail, out, safe


@click.command()
@click.option("--host", default=None, help="Listen address of the web server (default: [web] host, 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="Web port (default: [web] port, 8080).")
@click.option("--db", "db_url", metavar="URL", help="Database URL (default: embedded SQLite netwarden.db).")
@click.option("--syslog-udp", multiple=True, metavar="HOST:PORT", help="Syslog over UDP here (default [web] syslog_udp, :5514).")
@click.option("--syslog-tcp", multiple=True, metavar="HOST:PORT", help="Syslog over TCP here (default [web] syslog_tcp, :5514).")
@click.option("--netflow", multiple=True, metavar="HOST:PORT", help="NetFlow/IPFIX over UDP here (default [web] netflow_udp, :2055).")
@click.option("--no-listeners", is_flag=True, help="Only the web application: no syslog or NetFlow listener.")
@click.option("--web-only", is_flag=True,
              help="Only the web application; with a [bus], its live feed shows what the workers do.")
@click.option("--readers", type=click.IntRange(0, 64), default=None,
              help="Processes that answer the event, alert and host API queries beside the web process, on the "
                   "other cores (default: one per core, at most 4; none on one core or an in-memory database).")
@click.pass_obj
def serve(obj: Context, host: str | None, port: int | None, db_url: str | None, syslog_udp: tuple[str, ...],
          syslog_tcp: tuple[str, ...], netflow: tuple[str, ...], no_listeners: bool, web_only: bool,
          readers: int | None) -> None:
    """Run the web application with the syslog and NetFlow listeners and detection, until Ctrl-C.

    On the first start (no users yet) an ``admin`` user is created and its one-time password printed;
    it must be changed at the first login.
    """
    from netwarden.store.database import DatabaseError
    import os

    from netwarden.serve import Server, ServerError
    from netwarden.web.readers import default_processes

    if db_url:
        obj.use_database(db_url)
    settings = obj.settings
    empty: list[str] = []
    server = Server(settings, host=host, port=port,
                       syslog_udp=empty if no_listeners else (list(syslog_udp) or None),
                       syslog_tcp=empty if no_listeners else (list(syslog_tcp) or None),
                       netflow_udp=empty if no_listeners else (list(netflow) or None), web_only=web_only,
                       readers=readers if readers is not None else default_processes(settings.database.url,
                                                                                       os.cpu_count()))
    try:
        server.start()
    except (ServerError, DatabaseError) as exc:
        fail(str(exc), 2)
    if server.first_admin_password:
        out.print("first start: created user [bold]admin[/bold] with the one-time password "
                  f"[bold]{server.first_admin_password}[/bold] (change it at the first login)")
    out.print(f"web: {server.url}/")
    for kind, h, p in server.syslog_addresses:
        out.print(f"syslog {kind}: {safe(h) or '*'}:{p}")
    for h, p in server.netflow_addresses:
        out.print(f"netflow udp: {safe(h) or '*'}:{p}")
    out.file.flush()
    try:
        with stop_signals() as stop:
            while not stop.wait(1.0):
                for error in server.storage_errors():
                    out.print(f"storage error: {safe(error)}")
    finally:
        try:
            server.stop()
        except ServerError as exc:
            fail(str(exc))
    out.print("stopped")
