"""What the store knows of a followed file, and the hand-off of its lines to the sink.

``Handoff`` is the follower's side of ``netwarden.store.sources``: it recognises a file by its content
(the hash of its first line, then of the prefix an earlier run stored) to resume where that run stopped,
picks its parser, hands each batch of lines to the :class:`~netwarden.collect.sink.FileSink` with the
position it takes the file to (stored in one transaction), and finishes a stream from its rotated copies
(after a restart, or a copytruncate)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from netwarden.collect.files import SNIFF_LINES, InputError, Line, decode
from netwarden.collect.rotated import continues, rotated_copies
from netwarden.collect.sink import FileSink
from netwarden.collect.tail import FIRST_LINE_LIMIT, Tail, hash_fd
from netwarden.collect.watch import FollowError, Watch
from netwarden.parse import ParseContext, UnknownFormat, get_parser, guess_format
from netwarden.store import sources as source_store
from netwarden.store.sources import Position, SourceConflict

ErrorCallback = Callable[[str, str], None]  # (path, message)


class Handoff:
    """Identifies, stores and recovers the files of one follower."""

    def __init__(self, sink: FileSink, *, recover_rotated: bool, on_error: ErrorCallback | None) -> None:
        self.sink = sink
        self.db = sink.db
        self.recover_rotated = recover_rotated
        self.on_error = on_error

    # -- identifying a file -------------------------------------------------------------------------

    def identify(self, watch: Watch, tail: Tail, final: bool) -> bool:
        """Find where an earlier run stopped in this content, and the parser; False to wait."""
        head = os.pread(tail.fd, FIRST_LINE_LIMIT, 0)
        cut = head.find(b"\n")
        if cut >= 0:
            first = head[:cut + 1]
        elif len(head) >= FIRST_LINE_LIMIT or (final and head):
            first = head
        else:
            return False  # empty, or the first line is not complete yet
        tail.first_sha = hashlib.sha256(first).hexdigest()
        with self.db.engine.connect() as conn:
            earlier = source_store.candidates(conn, tail.first_sha)
        found = None
        for row in earlier:
            digest, got = hash_fd(tail.fd, row["offset"])
            if got == row["offset"] and digest.hexdigest() == row["prefix_sha"]:
                found = row, digest
                break
        if watch.fmt != "auto":
            fmt = watch.fmt
        elif found is not None:
            fmt = found[0]["format"]
        else:
            guessed = self._guess(tail, final)
            if guessed is None:
                return False
            fmt = guessed
        parser_cls = get_parser(fmt)
        tail.format = parser_cls.name
        tail.parser = parser_cls(ParseContext(source=str(tail.path), reference_time=datetime.now(timezone.utc),
                                              local_tz=self.sink.local_tz))
        if found is not None:
            row, digest = found
            tail.source_id = row["id"]
            tail.offset, tail.lines, tail.digest = row["offset"], row["lines"], digest
            tail.stored_through = row["stored_lines"] or 0
            if watch.stats.resumed_at_line == 0 and watch.stats.lines == 0:
                watch.stats.resumed_at_line = row["lines"]
        tail._reset_work()
        tail.identified = True
        watch.stats.format = tail.format
        return True

    def _guess(self, tail: Tail, final: bool) -> str | None:
        data = os.pread(tail.fd, 1 << 16, 0)
        complete = data.split(b"\n")
        if not final:
            complete = complete[:-1]  # the last piece is unfinished (or empty)
        sample = [decode(raw.rstrip(b"\r"))[0] for raw in complete[:SNIFF_LINES]]
        try:
            return guess_format(sample).name
        except UnknownFormat as exc:
            if len(sample) >= SNIFF_LINES or final or len(data) >= 1 << 16:
                tail.failed = f"{tail.path}: {exc}"
                raise FollowError(tail.failed) from None
            return None  # perhaps with more lines

    # -- storing ------------------------------------------------------------------------------------

    def flush(self, watch: Watch, tail: Tail, ready: list[Line], complete: bool = False) -> bool:
        """Store ``ready`` and the new position in one transaction, then advance; reset on failure.

        False if another reader had advanced the same source: the file is then identified again.
        """
        try:
            if tail.source_id is None:
                with self.db.engine.begin() as conn:
                    tail.source_id = source_store.create(
                        conn, kind="file", name=str(tail.path), fmt=tail.format or "?",
                        first_line_sha=tail.first_sha, prefix_sha=tail.digest.hexdigest())
            assert tail.parser is not None and tail.format is not None
            result = self.sink.store_lines(tail.parser, ready, source=str(watch.path), fmt=tail.format,
                                           source_id=tail.source_id, position=Position(
                                               tail.w_offset, tail.w_digest.hexdigest(), tail.w_lines,
                                               complete=complete, expected_offset=tail.offset),
                                           stored_through=tail.stored_through if tail.stored_through > tail.lines else 0)
        except SourceConflict:
            # another reader stored part of this stream: start over from what the store says
            tail.restart_from_zero()
            return False
        except Exception:
            tail._reset_work()
            raise
        tail.offset, tail.lines, tail.digest = tail.w_offset, tail.w_lines, tail.w_digest.copy()
        watch.stats.add(result)
        if ready:
            watch.stats.last_line_at = time.time()
        return True

    # -- rotated copies -------------------------------------------------------------------------------

    def truncated(self, watch: Watch, tail: Tail) -> None:
        """copytruncate: finish the stream from the copy if it is there, then read the file anew."""
        if tail.source_id is not None and self.recover_rotated:
            with self.db.engine.connect() as conn:
                row = source_store.get(conn, tail.source_id)
            if row is not None:
                self._recover_from_copies(watch, [row])
        tail.restart_from_zero()
        tail.failed = None

    def recover_at_start(self, watch: Watch) -> None:
        """Finish streams last seen at this path from their rotated copies (rotation while we were down)."""
        if not self.recover_rotated:
            return
        with self.db.engine.connect() as conn:
            rows = source_store.last_read_as(conn, "file", str(watch.path))
        if rows:
            self._recover_from_copies(watch, rows)

    def _recover_from_copies(self, watch: Watch, rows: list[dict[str, Any]]) -> None:
        for candidate in rotated_copies(watch.path):
            for row in rows:
                try:
                    if not continues(candidate, row):
                        continue
                    result = self.sink.ingest_file(candidate, row["format"])
                except (InputError, UnknownFormat) as exc:
                    if self.on_error is not None:
                        self.on_error(str(watch.path), f"{candidate}: {exc}")
                    continue
                watch.stats.recovered_lines += result.lines
                watch.stats.recovered_events += result.events
                watch.stats.quarantined.update(result.quarantined)
                break
