"""SQLite's one write lock, taken in turns by a file import's writer process and the parsing process.

During an import the writer process (:class:`~netwarden.store.writer.ProcessWriter`) holds the lock most of the
time, and the detection engine in the parsing process needs it for a few milliseconds per batch
(:func:`~netwarden.store.alerts.lock_for_writing`). The writer process keeps adding the parts of the batches it
is handed to one transaction while nobody waits; the engine raises a flag the two processes share while it
waits, and the writer then commits once the part it is writing is stored and lets the engine write before it
goes on. So the parsing process waits for at most one part's write, never for a whole batch's transaction.
"""

from __future__ import annotations

from typing import Any

# SQLAlchemy Engine (of the parsing process) -> the flag shared with the writer process writing that database
_FLAGS: dict[Any, Any] = {}


def share(engine: Any, flag: Any) -> None:
    _FLAGS[engine] = flag


def unshare(engine: Any, flag: Any) -> None:
    if _FLAGS.get(engine) is flag:
        del _FLAGS[engine]


def flag_of(engine: Any) -> Any:
    """The shared flag (a ``multiprocessing`` value: 1 while this process waits for the lock) of the writer
    process writing ``engine``'s database, or None."""
    return _FLAGS.get(engine)

