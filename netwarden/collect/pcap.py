"""Reading packet captures: pcap and pcapng, fast, from a file or a live stream, never trusting the bytes.

:class:`CaptureParser` is a push parser: ``feed(data)`` takes any piece of a capture (a 1 MiB chunk of a
file, a few packets from ``tcpdump -w -``), decodes every complete record in it and keeps the rest for the
next call. Each packet is decoded (link layer, IPv4/IPv6, TCP/UDP/ICMP, ARP) by :class:`~netwarden.collect.packets.PacketDecoder`
straight into a :class:`~netwarden.collect.flows.FlowTable`; no object is made per packet beyond the
flow key.

Formats: classic pcap in both byte orders with micro- or nanosecond stamps, and pcapng (SHB, IDB, EPB, SPB
and the obsolete PB; several sections and interfaces, each with its own link type and timestamp
resolution). Link types: Ethernet (802.1Q/802.1ad tags), Linux cooked v1 and v2, raw IP, IPv4, IPv6, BSD
loopback (null and loop).

Corrupt input never crashes the reader and never makes it allocate more than :data:`MAX_BLOCK` bytes:
a record whose length is impossible stops the capture with a reason (``stats.stopped``); a packet too
short for its headers is skipped and counted (``stats.skipped``).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from netwarden.collect.flows import FlowTable
from netwarden.collect.packets import LINK_NAMES, PacketDecoder

if TYPE_CHECKING:
    from netwarden.records import Event

MAX_SNAPLEN = 262_144  # libpcap's largest snapshot length; a record longer than this is corrupt
MAX_BLOCK = 16 << 20  # the largest pcapng block kept in memory (non-packet blocks: name tables, keys)
CHUNK = 1 << 20

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"

def capture_format(head: bytes) -> str | None:
    """``"pcap"`` or ``"pcapng"`` if these first bytes (at least 4) start a capture, else None."""
    magic = bytes(head[:4])
    if magic in PCAP_MAGICS:
        return "pcap"
    if magic == PCAPNG_MAGIC:
        return "pcapng"
    return None


@dataclass
class CaptureStats:
    """What a capture held, and what could not be used (never silently)."""

    packets: int = 0  # records read (including those skipped below)
    bytes: int = 0  # bytes on the wire, as the records say
    truncated: int = 0  # packets captured shorter than on the wire (snaplen)
    fragments: int = 0  # IPv4/IPv6 fragments (counted, not reassembled)
    non_ip: int = 0  # other ethertypes (LLDP, STP ...)
    skipped: Counter = field(default_factory=Counter)  # reason -> packets not put into any flow
    link_types: Counter = field(default_factory=Counter)
    resumed: int = 0  # packets before the resume point (read, not decoded)
    stopped: str | None = None  # why the capture could not be read to its end

    def as_dict(self) -> dict:
        return {"packets": self.packets, "bytes": self.bytes, "truncated": self.truncated,
                "fragments": self.fragments, "non_ip": self.non_ip, "skipped": dict(self.skipped),
                "link_types": dict(self.link_types), "stopped": self.stopped}


_REC_LE, _REC_BE = struct.Struct("<IIII"), struct.Struct(">IIII")
_BLK = {"<": struct.Struct("<II"), ">": struct.Struct(">II")}
_HEAD = {"<": struct.Struct("<IIIIIII"), ">": struct.Struct(">IIIIIII")}  # block header + EPB fields at once
_U32 = {"<": struct.Struct("<I"), ">": struct.Struct(">I")}
_IDB = {"<": struct.Struct("<HHI"), ">": struct.Struct(">HHI")}
_OPT = {"<": struct.Struct("<HH"), ">": struct.Struct(">HH")}
_I64 = {"<": struct.Struct("<q"), ">": struct.Struct(">q")}
_PB = {"<": struct.Struct("<HHIIII"), ">": struct.Struct(">HHIIII")}


class CaptureParser:
    """Push parser for a pcap or pcapng byte stream.

    ``feed`` pieces in order, then ``finish``. ``consumed`` is the stream offset just after the last
    complete record decoded; ``digest`` (if given) has been fed exactly the bytes before it. Records that
    end at or before ``skip_until`` are read but not decoded (resuming an import).
    """

    def __init__(self, decode: Callable[[int, float, bytes, int, int, int], None], stats: CaptureStats, *,
                 digest: hashlib._Hash | None = None, skip_until: int = 0) -> None:
        self._decode = decode
        self.stats = stats
        self.digest = digest
        self.skip_until = skip_until
        self.consumed = 0
        self.format: str | None = None
        self._rest = b""
        self._pieces: list[bytes] = []  # pieces of one large record, joined once it is complete
        self._held = 0  # bytes in _rest and _pieces
        self._need = 0  # bytes the record at the start of _rest needs
        self._feed: Callable[[bytes], int] = self._feed_header
        # pcap
        self._link = 0
        self._scale = 1e-6
        self._rec = _REC_LE
        # pcapng
        self._endian = "<"
        self._ifaces: list[tuple[int, float, float]] = []  # (link type, seconds per tick, offset)
        self._last_ts = 0.0

    @property
    def stopped(self) -> str | None:
        return self.stats.stopped

    def feed(self, data: bytes) -> None:
        if self.stats.stopped or not data:
            return
        if self._need and self._held + len(data) < self._need:  # still inside one large record
            self._pieces.append(data)
            self._held += len(data)
            return
        if self._pieces:
            buf = b"".join([self._rest, *self._pieces, data])
            self._pieces = []
        else:
            buf = self._rest + data if self._rest else data
        self._need = 0
        while buf:
            handler = self._feed
            pos = handler(buf)
            if pos:
                if self.digest is not None:
                    self.digest.update(memoryview(buf)[:pos])
                self.consumed += pos
                buf = buf[pos:]
            if self._feed is handler or self.stats.stopped:
                break
        self._rest = bytes(buf) if not self.stats.stopped else b""
        self._held = len(self._rest)
        if self._held > MAX_BLOCK + 64:  # cannot happen with the checks below; a last guard
            self._stop("record_too_large")

    def finish(self) -> None:
        """End of the stream: a partial record left over is a truncated capture."""
        if (self._rest or self._pieces) and not self.stats.stopped:
            self._stop("truncated_record" if self.format else "truncated_header")
        self._rest = b""

    def _stop(self, reason: str) -> None:
        self.stats.stopped = reason
        self._rest = b""
        self._pieces = []
        self._held = 0

    # -- headers ----------------------------------------------------------------------------------

    def _feed_header(self, buf: bytes) -> int:
        if len(buf) < 4:
            return 0
        magic = bytes(buf[:4])
        if magic == PCAPNG_MAGIC:
            self.format = "pcapng"
            self._feed = self._feed_pcapng
            return 0
        if magic not in PCAP_MAGICS:
            self._stop("not_a_capture")
            return 0
        if len(buf) < 24:
            return 0
        endian, self._scale = PCAP_MAGICS[magic]
        self.format = "pcap"
        self._rec = _REC_LE if endian == "<" else _REC_BE
        self._link = _U32[endian].unpack_from(buf, 20)[0] & 0x0FFFFFFF  # upper bits: FCS length
        self.stats.link_types[LINK_NAMES.get(self._link, str(self._link))] += 1
        self._feed = self._feed_pcap
        return 24

    # -- classic pcap: the hot loop -----------------------------------------------------------------

    def _feed_pcap(self, buf: bytes) -> int:
        n = len(buf)
        pos = 0
        unpack = self._rec.unpack_from
        decode = self._decode
        link = self._link
        scale = self._scale
        skip = self.skip_until - self.consumed
        stats = self.stats
        packets = wire = truncated = 0
        while pos + 16 <= n:
            sec, frac, caplen, wirelen = unpack(buf, pos)
            if caplen > MAX_SNAPLEN:
                self._stop("bad_record_length")
                break
            end = pos + 16 + caplen
            if end > n:
                self._need = end - pos
                break
            packets += 1
            wire += wirelen
            if caplen < wirelen:
                truncated += 1
            if end > skip:
                decode(link, sec + frac * scale, buf, pos + 16, end, wirelen)
            else:
                stats.resumed += 1
            pos = end
        stats.packets += packets
        stats.bytes += wire
        stats.truncated += truncated
        return pos

    # -- pcapng -----------------------------------------------------------------------------------

    def _feed_pcapng(self, buf: bytes) -> int:
        n = len(buf)
        pos = 0
        decode = self._decode
        stats = self.stats
        skip = self.skip_until - self.consumed
        endian = self._endian
        # bound methods and local counters: this loop runs once per packet (written back after it)
        blk, head, u32 = _BLK[endian].unpack_from, _HEAD[endian].unpack_from, _U32[endian].unpack_from
        ifaces = self._ifaces
        packets = wire = truncated = 0
        last_ts = self._last_ts
        while pos + 12 <= n:
            if pos + 28 <= n:  # read an EPB's fields with its header (what they mean depends on btype)
                btype, blen, iface, hi, lo, caplen, wirelen = head(buf, pos)
            else:
                btype, blen = blk(buf, pos)
            if btype == 0x0A0D0D0A:  # section header: the byte order may change here
                bom = bytes(buf[pos + 8:pos + 12])
                if bom == b"\x4d\x3c\x2b\x1a":
                    endian = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    endian = ">"
                else:
                    self._stop("bad_section_header")
                    break
                self._endian = endian
                blk, head, u32 = _BLK[endian].unpack_from, _HEAD[endian].unpack_from, _U32[endian].unpack_from
                blen = blk(buf, pos)[1]
            if blen < 12 or blen & 3 or blen > MAX_BLOCK:
                self._stop("bad_block_length")
                break
            end = pos + blen
            if end > n:
                self._need = blen
                break
            if u32(buf, end - 4)[0] != blen:
                self._stop("bad_block_length")
                break
            if btype == 6:  # enhanced packet block
                if blen < 32:  # (so pos + 28 <= end <= n: the fields were read above)
                    self._stop("bad_block_length")
                    break
                packets += 1
                wire += wirelen
                if caplen > blen - 32:
                    stats.skipped["bad_packet_length"] += 1
                elif iface >= len(ifaces):
                    stats.skipped["unknown_interface"] += 1
                else:
                    if caplen < wirelen:
                        truncated += 1
                    link, tick, offset = ifaces[iface]
                    last_ts = ts = ((hi << 32) | lo) * tick + offset
                    if end > skip:
                        decode(link, ts, buf, pos + 28, pos + 28 + caplen, wirelen)
                    else:
                        stats.resumed += 1
            elif btype == 3:  # simple packet block: interface 0, no timestamp
                packets += 1
                if not ifaces:
                    stats.skipped["unknown_interface"] += 1
                else:
                    wirelen = u32(buf, pos + 8)[0]
                    wire += wirelen
                    caplen = min(wirelen, blen - 16)
                    if caplen < wirelen:
                        truncated += 1
                    if end > skip:
                        decode(ifaces[0][0], last_ts, buf, pos + 12, pos + 12 + caplen, wirelen)
                    else:
                        stats.resumed += 1
            elif btype == 1:  # interface description
                if blen < 20:
                    self._stop("bad_block_length")
                    break
                ifaces.append(self._interface(buf, pos, end, endian))
            elif btype == 2:  # obsolete packet block
                if blen < 32:
                    self._stop("bad_block_length")
                    break
                iface, _drops, hi, lo, caplen, wirelen = _PB[endian].unpack_from(buf, pos + 8)
                packets += 1
                wire += wirelen
                if caplen > blen - 32 or iface >= len(ifaces):
                    stats.skipped["bad_packet_length" if caplen > blen - 32 else "unknown_interface"] += 1
                else:
                    link, tick, offset = ifaces[iface]
                    ts = ((hi << 32) | lo) * tick + offset
                    if end > skip:
                        decode(link, ts, buf, pos + 28, pos + 28 + caplen, wirelen)
                    else:
                        stats.resumed += 1
            elif btype == 0x0A0D0D0A:
                ifaces = self._ifaces = []  # a new section has its own interfaces
            pos = end
        stats.packets += packets
        stats.bytes += wire
        stats.truncated += truncated
        self._last_ts = last_ts
        return pos

    def _interface(self, buf: bytes, pos: int, end: int, endian: str) -> tuple[int, float, float]:
        link, _reserved, _snaplen = _IDB[endian].unpack_from(buf, pos + 8)
        self.stats.link_types[LINK_NAMES.get(link, str(link))] += 1
        tick, offset = 1e-6, 0.0
        opt = pos + 16
        stop = end - 4
        opt_hdr = _OPT[endian]
        while opt + 4 <= stop:
            code, length = opt_hdr.unpack_from(buf, opt)
            if code == 0:
                break
            value = opt + 4
            if value + length > stop:
                break
            if code == 9 and length >= 1:  # if_tsresol
                r = buf[value]
                tick = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0 ** -r
            elif code == 14 and length >= 8:  # if_tsoffset, seconds
                offset = float(_I64[endian].unpack_from(buf, value)[0])
            opt = value + ((length + 3) & ~3)
        return link, tick, offset


# -- reading a whole capture into flows -----------------------------------------------------------

class Readable(Protocol):
    """What a capture is read from: a file opened in binary, a gzip stream, a pipe."""

    def read(self, size: int = -1, /) -> bytes: ...


class CaptureImport:
    """A capture file (or any stream) → flow events, in batches cut at record boundaries.

    >>> imp = CaptureImport(open("x.pcap", "rb"))        # doctest: +SKIP
    >>> for events, consumed in imp.batches(): ...        # doctest: +SKIP
    """

    def __init__(self, stream: Readable, *, digest: hashlib._Hash | None = None, skip_until: int = 0,
                 batch_size: int = 5000, active_timeout: float = 1800.0, idle_timeout: float = 60.0,
                 max_flows: int = 200_000, chunk_size: int = CHUNK, source_kind: str = "pcap",
                 observer: str | None = None) -> None:
        self.stream = stream
        self.stats = CaptureStats()
        self.table = FlowTable(active_timeout=active_timeout, idle_timeout=idle_timeout, max_flows=max_flows,
                               source_kind=source_kind, observer=observer)
        self.decoder = PacketDecoder(self.table, self.stats)
        self.parser = CaptureParser(self.decoder.packet, self.stats, digest=digest, skip_until=skip_until)
        self.batch_size = batch_size
        self.chunk_size = chunk_size

    def batches(self) -> Iterator[tuple[list, int]]:
        """(events, consumed offset) whenever ``batch_size`` events are ready, and once at the end."""
        read = getattr(self.stream, "read1", None) or self.stream.read
        table = self.table
        while not self.parser.stopped:
            try:
                data = read(self.chunk_size)
            except (OSError, EOFError) as exc:  # a corrupt or truncated gzip
                self.stats.stopped = f"unreadable: {exc}"[:200]
                break
            if not data:
                break
            self.parser.feed(data)
            if len(table.ready) >= self.batch_size:
                yield table.drain(), self.parser.consumed
        self.parser.finish()
        table.flush()
        yield table.drain(), self.parser.consumed


def read_events(path_or_stream: str | bytes | os.PathLike[str] | Readable,
                **options: Any) -> tuple[list[Event], CaptureStats]:
    """Every event of a capture at once (tests, small files). Accepts a path (plain or gzip) or a stream."""
    import gzip

    if isinstance(path_or_stream, (str, bytes, os.PathLike)):
        with open(path_or_stream, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            stream: Readable = gzip.GzipFile(fileobj=raw) if magic == GZIP_MAGIC else raw
            imp = CaptureImport(stream, **options)
            events = [e for batch, _ in imp.batches() for e in batch]
    else:
        imp = CaptureImport(path_or_stream, **options)
        events = [e for batch, _ in imp.batches() for e in batch]
    return events, imp.stats
