"""What a flow carries, read where the first bytes of a segment show it, without reassembly: HTTP requests
and responses, SSH banners, DNS questions and answers, ICMP types and ARP operations. The application half of
:class:`~netwarden.collect.flows.FlowTable` (a mixin: it fills the flow's ``APP`` dict while packets arrive,
and those fields into the flow's records)."""

from __future__ import annotations

import re
import struct
from typing import Any

from netwarden.collect.flow_fields import APP, ARP, clip_text, mac_text, stamp_time
from netwarden.records import Event

_METHODS = frozenset({b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
                      b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK"})
HEADS = frozenset({m[:4].ljust(4, b" ") for m in _METHODS} | {b"HTTP", b"SSH-"})
_HOST = re.compile(rb"\nhost:[ \t]*([^\r\n]*)", re.I)
_AGENT = re.compile(rb"\nuser-agent:[ \t]*([^\r\n]*)", re.I)
_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")
MAX_HEAD = 16384  # bytes of a segment searched for request headers
MAX_URL = 8192
MAX_REQUESTS = 1000  # per flow record; more are counted in extra.http_requests_dropped
DNS_PORTS = frozenset({53, 5353, 5355})
DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
             35: "NAPTR", 43: "DS", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 252: "AXFR", 255: "ANY"}
DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
MAX_DNS_QUERIES = 20
_U16 = struct.Struct("!H")
_DNS = struct.Struct("!HHHH")


class FlowApplications:
    """The application layer of the flow table; its state is made in ``FlowTable.__init__``."""

    observer: str | None
    http_requests: int
    ready: list[Event]
    source_kind: str

    def _tcp_app(self, f: list, d: int, ts: float, buf: bytes, poff: int, pend: int) -> None:
        seg = buf[poff:min(pend, poff + MAX_HEAD)]
        app = f[APP]
        if app is None:
            app = f[APP] = {}
        head = seg[:4]
        if head == b"SSH-":
            app.setdefault("proto", "ssh")
            banner = seg.split(b"\n", 1)[0].rstrip(b"\r")
            app.setdefault("ssh_client" if d == 0 else "ssh_server", clip_text(banner, 255))
            return
        if head == b"HTTP":
            m = _STATUS.match(seg)
            if m is None:
                return
            app.setdefault("proto", "http")
            status = int(m.group(1))
            for req in app.get("reqs", ()):
                if req[6] is None and req[1] != d:
                    req[6] = status
                    return
            app.setdefault("status", status)
            return
        end = seg.find(b"\n")
        line = (seg if end < 0 else seg[:end]).rstrip(b"\r")
        parts = line.split(b" ")
        if len(parts) < 2 or parts[0] not in _METHODS:
            return
        target = b" ".join(parts[1:-1] if len(parts) > 2 and parts[-1].startswith(b"HTTP/") else parts[1:])
        host = _HOST.search(seg, len(line))
        agent = _AGENT.search(seg, len(line))
        app["proto"] = "http"
        reqs = app.setdefault("reqs", [])
        if len(reqs) >= MAX_REQUESTS:
            app["dropped"] = app.get("dropped", 0) + 1
            return
        reqs.append([ts, d, parts[0].decode("ascii"), clip_text(target, MAX_URL),
                     clip_text(host.group(1), 255) if host else None,
                     clip_text(agent.group(1)) if agent else None, None])

    def _dns(self, f: list, d: int, buf: bytes, poff: int, pend: int) -> None:
        if pend - poff < 12:
            return
        _id, flags, qdcount, ancount = _DNS.unpack_from(buf, poff)
        app = f[APP]
        if app is None:
            app = f[APP] = {}
        app["proto"] = "dns"
        if qdcount < 1:
            return
        name, off = _dns_name(buf, poff + 12, pend, poff)
        if name is None:
            app["dns_malformed"] = app.get("dns_malformed", 0) + 1
            return
        qtype = _U16.unpack_from(buf, off)[0] if off + 2 <= pend else None
        question = (name, DNS_TYPES.get(qtype, str(qtype)) if qtype is not None else None)
        queries = app.setdefault("queries", [])
        if question not in queries and len(queries) < MAX_DNS_QUERIES:
            queries.append(question)
        if flags & 0x8000:
            app["rcode"] = DNS_RCODES.get(flags & 15, str(flags & 15))
            app["answers"] = app.get("answers", 0) + ancount

    def _other(self, f: list, d: int, proto: int, buf: bytes, poff: int, pend: int) -> None:
        if proto == 1 or proto == 58:
            if pend - poff < 2:
                return
            app = f[APP]
            if app is None:
                app = f[APP] = {"icmp_type": buf[poff], "icmp_code": buf[poff + 1], "icmp": {}}
            types = app["icmp"]
            name = f"{buf[poff]}/{buf[poff + 1]}"
            if name in types or len(types) < 16:
                types[name] = types.get(name, 0) + 1
        elif proto == ARP:
            app = f[APP]
            if app is None:
                app = f[APP] = {"ops": [0, 0, 0, 0]}  # requests out, in; replies out, in
            op = _U16.unpack_from(buf, poff + 6)[0]
            if op == 1 or op == 2:
                app["ops"][(op - 1) * 2 + d] += 1
            mac_key = "src_mac" if d == 0 else "dst_mac"
            if mac_key not in app:
                app[mac_key] = mac_text(buf[poff + 8:poff + 14])

    def _app_fields(self, event: Event, app: dict, extra: dict, proto: int) -> None:
        event.app_protocol = app.get("proto")
        if proto == 1 or proto == 58:
            extra["icmp_type"] = app["icmp_type"]
            extra["icmp_code"] = app["icmp_code"]
            extra["icmp_types"] = app["icmp"]
            return
        if proto == ARP:
            ops = app["ops"]
            extra["arp_requests_out"], extra["arp_requests_in"] = ops[0], ops[1]
            extra["arp_replies_out"], extra["arp_replies_in"] = ops[2], ops[3]
            for k in ("src_mac", "dst_mac"):
                if k in app:
                    extra[k] = app[k]
            return
        if event.app_protocol == "dns":
            queries = app.get("queries")
            if queries:
                extra["dns_query"], extra["dns_qtype"] = queries[0]
                if len(queries) > 1:
                    extra["dns_queries"] = [list(q) for q in queries]
                event.message = f"DNS {queries[0][1]} {queries[0][0]}"
            for k in ("rcode", "answers", "dns_malformed"):
                if k in app:
                    extra["dns_" + k if not k.startswith("dns") else k] = app[k]
            return
        for k in ("ssh_client", "ssh_server"):
            if k in app:
                extra[k] = app[k]
        reqs = app.get("reqs")
        if reqs:
            ts, _d, method, url, host, agent, status = reqs[0]
            event.http_method, event.url, event.user_agent = method, url, agent
            event.http_status = status if status is not None else app.get("status")
            if host is not None:
                extra["host"] = host
            extra["http_requests"] = len(reqs) + app.get("dropped", 0)
            if app.get("dropped"):
                extra["http_requests_dropped"] = app["dropped"]
            self.http_requests += len(reqs)
            for ts, d, method, url, host, agent, status in reqs[1:]:
                req_extra: dict[str, Any] = {"record": "http_request"}
                if host is not None:
                    req_extra["host"] = host
                a, b = (event.src_ip, event.dst_ip), (event.src_port, event.dst_port)
                self.ready.append(Event(
                    timestamp=stamp_time(ts), source_kind=self.source_kind, observer=self.observer,
                    src_ip=a[d], src_port=b[d], dst_ip=a[1 - d], dst_port=b[1 - d], transport="tcp",
                    app_protocol="http", http_method=method, url=url, http_status=status, user_agent=agent,
                    extra=req_extra))
        elif "status" in app:
            event.http_status = app["status"]


def _dns_name(buf: bytes, off: int, end: int, msg: int) -> tuple[str | None, int]:
    """A (possibly compressed) name at ``off``; returns it and the offset after it in the question."""
    labels: list[str] = []
    after = -1
    size = 0
    for _ in range(128):
        if off >= end:
            return None, off
        n = buf[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if off + 2 > end:
                return None, off
            target = msg + (_U16.unpack_from(buf, off)[0] & 0x3FFF)
            if after < 0:
                after = off + 2
            if target >= off or target < msg:  # only backwards: no loops
                return None, off
            off = target
            continue
        if n & 0xC0 or off + 1 + n > end:
            return None, off
        size += n + 1
        if size > 255:
            return None, off
        labels.append(buf[off + 1:off + 1 + n].decode("ascii", "backslashreplace"))
        off += 1 + n
    else:
        return None, off
    return ".".join(labels) or ".", (after if after >= 0 else off)
