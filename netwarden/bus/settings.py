"""The ``[bus]`` settings section: with a ``url``, NetWarden runs distributed (netwarden.bus)."""

from pydantic import Field, field_validator

from netwarden.settings_base import Section


class BusSettings(Section):
    """Producers (collectors) publish parsed batches to ``partitions`` Redis streams chosen by a hash of each
    event's source address; ``netwarden worker`` processes detect and store them. Empty ``url``: one process."""

    url: str = ""  # redis://host:6379/0 (rediss:// for TLS)
    prefix: str = "netwarden"  # of every key, so several sites can share one Redis
    # more partitions than workers lets workers come and go without moving much; fixed once data flows
    partitions: int = Field(8, ge=1, le=1024)
    # back-pressure: a producer waits while a partition has this many batches not yet acknowledged ...
    max_backlog: int = Field(2000, ge=1)
    # ... for at most this long; then the batch is dropped and counted (netwarden_bus_dropped_events_total)
    max_wait: float = Field(30.0, ge=0)
    history: int = Field(20_000, ge=100)  # entries kept per partition (for warming up a taking-over worker)
    lease_seconds: float = Field(10.0, ge=1)  # a silent worker's partitions move after this long
    # a worker that takes a partition over replays this much of its acknowledged history (event time) through
    # the detectors, without alerting, so that their windows hold what the previous owner had seen
    warm_seconds: float = Field(900.0, ge=0)
    batch_events: int = Field(500, ge=1, le=100_000)  # events per published message at most
    ledger_days: float = Field(7.0, gt=0)  # how long stored batch ids are remembered (bus_batches)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r}: the bus is Redis: redis://host:6379/0, rediss:// or unix://")
        return value
