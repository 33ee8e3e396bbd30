"""The bus alone, on the real Redis: partitions by source address, back-pressure that waits and then drops
and counts, batches that survive the trip unchanged, and the worker's metrics endpoint."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import httpx
from prometheus_client.parser import text_string_to_metric_families

from netwarden import metrics
from netwarden.bus.codec import decode_events, encode_events
from netwarden.bus.http import serve_metrics
from netwarden.bus.redis_bus import RedisBus, partition_of
from netwarden.records import Event


def event(src: str, n: int = 0) -> Event:
    return Event(timestamp=datetime(2026, 12, 4, 10, 0, n % 60, tzinfo=timezone.utc), source_kind="auth",
                 src_ip=src, user="héllo\x00<script>", message=f"line {n}", extra={"k": [1, "two"]})


def test_events_cross_the_bus_unchanged() -> None:
    batch = [event("203.0.113.5", 1), Event(timestamp=None, source_kind="netflow", dst_port=443)]
    assert decode_events(encode_events(batch)) == batch


def test_one_source_always_goes_to_one_partition(bus_settings) -> None:  # type: ignore[no-untyped-def]
    bus = RedisBus(bus_settings)
    sources = [f"198.51.100.{i}" for i in range(40)]
    bus.publish([event(s, i) for i, s in enumerate(sources * 3)], source="t", fmt="auth")
    seen: dict[str, set[int]] = {}
    for p in range(bus.partitions):
        for _, fields in bus.redis.xrange(bus.stream(p)):
            for e in decode_events(fields[b"events"]):
                seen.setdefault(e.src_ip, set()).add(p)
    assert {s: {partition_of(s, bus.partitions)} for s in sources} == seen
    assert len({p for parts in seen.values() for p in parts}) == bus.partitions  # and the load is spread
    bus.close()


def test_back_pressure_waits_then_drops_and_counts(bus_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from netwarden.cli import cli

    settings = bus_settings.model_copy(update={"max_backlog": 3, "max_wait": 0.5, "partitions": 1})
    bus = RedisBus(settings)
    before = metrics.BUS_DROPPED.labels("bp")._value.get()
    for i in range(3):  # no worker reads: the backlog grows to the limit
        assert bus.publish([event("192.0.2.1", i)], source="bp", fmt="auth") == 0
    started = time.monotonic()
    assert bus.publish([event("192.0.2.1", 9), event("192.0.2.1", 10)], source="bp", fmt="auth") == 2
    assert time.monotonic() - started >= 0.45  # it waited for room first
    assert bus.redis.xlen(bus.stream(0)) == 3 and bus.backlog(0) == 3
    assert metrics.BUS_DROPPED.labels("bp")._value.get() - before == 2
    assert bus.dropped_by_source() == {"bp": 2}  # for every process to see, not only this one's metrics
    bus.close()
    env = {"NETWARDEN_BUS_URL": settings.url, "NETWARDEN_BUS_PREFIX": settings.prefix, "NETWARDEN_BUS_PARTITIONS": "1",
           "NETWARDEN_DATABASE_URL": f"sqlite:///{tmp_path / 'nw.db'}"}
    shown = CliRunner().invoke(cli, ["status"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "0 workers alive, 1 partition" in shown.output and "backlog      3 batches not yet stored" in shown.output
    assert "dropped      2 (events and quarantined lines: the bus stayed full)" in shown.output
    assert "    bp  2" in shown.output


def test_worker_metrics_endpoint_parses(bus_settings) -> None:  # type: ignore[no-untyped-def]
    bus = RedisBus(bus_settings)
    bus.publish([event("192.0.2.9", 1)], source="m", fmt="auth")
    metrics.add_collector(bus.gauges)
    metrics.set_ready_check("bus", bus.ping)
    http = serve_metrics("127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{http.server_address[1]}"
        text = httpx.get(f"{base}/metrics", timeout=10).text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(text) for s in f.samples}
        p = str(partition_of("192.0.2.9", bus.partitions))
        assert samples[("netwarden_bus_queue_depth", (("partition", p),))] == 1
        assert samples[("netwarden_bus_backlog", (("partition", p),))] == 1
        assert httpx.get(f"{base}/readyz", timeout=10).json() == {"status": "ready"}
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    finally:
        http.shutdown()
        metrics.remove_collector(bus.gauges)
        metrics.set_ready_check("bus", None)
        bus.close()


def test_publish_command_parses_a_file_onto_the_bus(bus_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from netwarden.cli import cli

    log = tmp_path / "auth.log"
    log.write_text("".join(f"<38>Dec  4 10:00:{i:02d} gw sshd[1]: Failed password for bob from 192.0.2.{i} "
                           f"port 4{i:04d} ssh2\n" for i in range(30)) + "\x00 not syslog\n")
    env = {"NETWARDEN_BUS_URL": bus_settings.url, "NETWARDEN_BUS_PREFIX": bus_settings.prefix,
           "NETWARDEN_BUS_PARTITIONS": str(bus_settings.partitions),
           "NETWARDEN_DATABASE_URL": f"sqlite:///{tmp_path / 'nw.db'}"}
    result = CliRunner().invoke(cli, ["publish", "--format", "syslog", str(log)], env=env)
    assert result.exit_code == 0, result.output
    assert "31 lines, 30 events parsed, 1 quarantined" in result.output
    bus = RedisBus(bus_settings)
    on_bus = [e for p in range(bus.partitions) for _, f in bus.redis.xrange(bus.stream(p))
              for e in decode_events(f[b"events"])]
    assert sorted(e.src_ip for e in on_bus) == sorted(f"192.0.2.{i}" for i in range(30))
    bus.close()
    unconfigured = CliRunner().invoke(cli, ["publish", "--format", "syslog", str(log)],
                                      env={**env, "NETWARDEN_BUS_URL": ""})
    assert unconfigured.exit_code == 2 and "no bus is configured" in unconfigured.output
