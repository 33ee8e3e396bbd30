"""The access log's times: a line in the same second as the line before gets that line's time (the same object,
which pickles once on its way to the writer process); any other line is read on its own, with the same result
as a parser that never saw the line before; a bad time is never hidden by the one before it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from netwarden.parse import ParseContext, ParseError
from netwarden.parse.access_log import AccessLog

STAMPS = ["17/May/2015:10:05:03 +0000", "17/May/2015:10:05:03 +0000", "17/May/2015:10:05:03 +0200",
          "17/May/2015:10:05:04 +0000", "17/May/2015:10:05:03 +0000", "17/May/2015:10:05:03.250 +0000",
          "17/May/2015:10:05:03.250 +0000", "17/May/2015:10:05:03", "17/May/2015:10:05:03", "18/May/2015:00:00:00 -0130"]


def line(stamp: str) -> str:
    return f'203.0.113.7 - - [{stamp}] "GET / HTTP/1.1" 200 5'


def test_a_repeated_second_is_the_same_time_as_read_alone() -> None:
    zone = timezone(timedelta(hours=3))
    parser = AccessLog(ParseContext(local_tz=zone))
    times = [parser.parse_line(line(s)).timestamp for s in STAMPS]
    alone = [AccessLog(ParseContext(local_tz=zone)).parse_line(line(s)).timestamp for s in STAMPS]
    assert times == alone
    assert times[1] is times[0] and times[6] is times[5] and times[8] is times[7]
    assert times[2] == datetime(2015, 5, 17, 8, 5, 3, tzinfo=timezone.utc)
    assert times[7] == datetime(2015, 5, 17, 7, 5, 3, tzinfo=timezone.utc)  # no zone: the local one
    assert times[5] - times[4] == timedelta(milliseconds=250)


def test_a_bad_time_after_a_good_one_is_still_refused() -> None:
    parser = AccessLog(ParseContext())
    parser.parse_line(line("31/Dec/9999:23:59:59 +0000"))
    for bad in ("31/Dec/9999:23:59:59 -0100", "32/Dec/9999:23:59:59 +0000"):
        for _ in range(2):
            with pytest.raises(ParseError) as caught:
                parser.parse_line(line(bad))
            assert caught.value.reason == "bad_timestamp"
