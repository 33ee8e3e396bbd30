"""Scale-out on Redis Streams: collectors publish parsed batches, ``netwarden worker`` processes detect and
store them in a shared PostgreSQL or MariaDB (docs/architecture.md, "Scale-out"; docs/deploy.md).

- :mod:`.codec` — a batch of events as bytes and back;
- :mod:`.redis_bus` — partition streams, back-pressure, leases, the live feed stream;
- :mod:`.worker` — one worker: partition ownership, warm-up, exactly-once storing, acknowledgement;
- :mod:`.ledger` — the writer that stores a batch and its id in one transaction;
- :mod:`.leader` — one process of all runs the periodic block-expiry sweep.

Without ``[bus] url`` none of this is imported and NetWarden is one process.
"""
