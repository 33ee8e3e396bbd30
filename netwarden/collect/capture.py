"""Live packet capture: packets from an interface → flows → the pipeline, while the capture runs.

The packets come from the real ``tcpdump -i IFACE -U -w -`` (needs root or ``cap_net_raw``): it opens the
interface, compiles and attaches the BPF filter in the kernel and writes a pcap stream to its standard
output, which the same :class:`~netwarden.collect.pcap.CaptureParser` reads as it does files. One thread
reads the stream, keeps the :class:`~netwarden.collect.flows.FlowTable` and, on the clock, ends flows on
their idle and active timeouts, so a long connection is reported while it lasts; ``stop()`` ends
tcpdump, reads what it still wrote and flushes every flow.

    stream = LiveStream(pipeline, fmt=None, source="capture/eth0")   # any netwarden.collect.sink.EventSink
    capture = LiveCapture(stream, "eth0", bpf="not port 22", active_timeout=60, idle_timeout=15)
    capture.start()      # raises CaptureError if tcpdump cannot capture (no such interface, no rights ...)
    ...
    capture.stop(); stream.close()
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

from netwarden.collect.flows import FlowTable
from netwarden.collect.service import Service
from netwarden.collect.sink import EventSink
from netwarden.collect.packets import PacketDecoder
from netwarden.collect.pcap import CaptureParser, CaptureStats
from netwarden.records import SourceKind

_DROPPED = re.compile(r"(\d+) packets? dropped by kernel")


class CaptureError(RuntimeError):
    """The capture could not start or failed; the message carries tcpdump's own words."""


@dataclass
class CaptureStatus:
    interface: str
    running: bool
    packets: int
    bytes: int
    flows_active: int
    flow_records: int
    events: int
    evicted: int
    dropped_by_kernel: int | None
    not_delivered: int  # events the stream refused (overloaded)
    stopped_reason: str | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class LiveCapture(Service):
    """One interface captured by a tcpdump child process; events go to ``stream.feed_event``."""

    def __init__(self, stream: EventSink, interface: str, *, bpf: str | None = None, active_timeout: float = 60.0,
                 idle_timeout: float = 15.0, max_flows: int = 200_000, snaplen: int = 2048,
                 tcpdump: str = "tcpdump", observer: str | None = None) -> None:
        if not interface or interface.startswith("-") or len(interface) > 64:
            raise ValueError(f"not an interface name: {interface!r}")
        self.stream = stream
        self.interface = interface
        self.bpf = bpf
        self.snaplen = max(96, min(int(snaplen), 262_144))
        self.observer = observer or interface
        self.tcpdump = tcpdump
        self.stats = CaptureStats()
        self.table = FlowTable(active_timeout=active_timeout, idle_timeout=idle_timeout, max_flows=max_flows,
                               source_kind=SourceKind.PCAP, observer=self.observer)
        self._parser = CaptureParser(PacketDecoder(self.table, self.stats).packet, self.stats)
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stderr_thread: threading.Thread | None = None
        self._stderr = bytearray()
        self._listening = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.events = 0
        self.not_delivered = 0
        self.error: str | None = None
        self.dropped_by_kernel: int | None = None

    # -- control --------------------------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [self.tcpdump, "-i", self.interface, "-U", "-w", "-", "-n", "-s", str(self.snaplen),
               "--immediate-mode"]
        if self.bpf:
            cmd.append(self.bpf)  # tcpdump compiles it; a bad filter fails start() with its message
        return cmd

    def start(self, timeout: float = 10.0) -> None:
        """Start tcpdump and wait until it listens; raises CaptureError with tcpdump's message if not."""
        if self._proc is not None:
            raise CaptureError("this capture was already started")
        exe = shutil.which(self.tcpdump)
        if exe is None:
            raise CaptureError(f"{self.tcpdump}: not found; install tcpdump (apt install tcpdump)")
        try:
            self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, bufsize=0)
        except OSError as exc:
            raise CaptureError(f"cannot run {self.tcpdump}: {exc}") from None
        self._stderr_thread = threading.Thread(target=self._read_stderr, name=f"tcpdump-err-{self.interface}",
                                               daemon=True)
        self._stderr_thread.start()
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._stderr_thread.join(timeout=1)
                message = self._stderr_text() or f"exit code {self._proc.poll()}"
                self._kill()
                raise CaptureError(f"capture on {self.interface} failed: {message}")
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.interface}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop tcpdump, decode what it still wrote, and hand every flow still open to the stream."""
        if self._proc is None or self._stopping.is_set():
            return
        self._stopping.set()
        if self._proc.poll() is None:
            self._proc.terminate()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        m = _DROPPED.search(self._stderr_text())
        if m:
            self.dropped_by_kernel = int(m.group(1))
        with self._lock:
            self._parser.finish()
            self.table.flush("stopped")
            self._deliver()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> CaptureStatus:
        return CaptureStatus(
            interface=self.interface, running=self.running, packets=self.stats.packets, bytes=self.stats.bytes,
            flows_active=len(self.table), flow_records=self.table.records, events=self.events,
            evicted=self.table.evicted, dropped_by_kernel=self.dropped_by_kernel,
            not_delivered=self.not_delivered, stopped_reason=self.stats.stopped, error=self.error)

    # -- the reading thread ---------------------------------------------------------------------

    def _run(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        table = self.table
        next_sweep = 0.0
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 0.1)
                data = os.read(fd, 1 << 16) if ready else None
                with self._lock:
                    if data:
                        self._parser.feed(data)
                    now = time.time()
                    if now >= next_sweep:
                        table.sweep(now)
                        next_sweep = now + min(table.sweep_interval, 0.25)
                    self._deliver()
                if data == b"":  # tcpdump ended
                    if not self._stopping.is_set():
                        self.error = f"tcpdump ended: {self._stderr_text() or 'no message'}"
                    return
                if self._parser.stopped:
                    self.error = f"unreadable capture stream: {self._parser.stopped}"
                    self._kill()
                    return
        except Exception as exc:  # kept for status(); the capture ends, the server goes on
            self.error = f"{type(exc).__name__}: {exc}"
            self._kill()

    def _deliver(self) -> None:
        for event in self.table.drain():
            if self.stream.feed_event(event, self.observer):
                self.events += 1
            else:
                self.not_delivered += 1

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in iter(self._proc.stderr.readline, b""):
            if b"listening on" in line:
                self._listening.set()
            self._stderr += line
            if len(self._stderr) > 8192:
                del self._stderr[:-4096]

    def _stderr_text(self) -> str:
        lines = [line for line in bytes(self._stderr).decode("utf-8", "replace").splitlines()
                 if line.strip() and "listening on" not in line]
        return "; ".join(lines)[-1000:]

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
