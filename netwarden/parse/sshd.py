"""OpenSSH server messages: logins, brute force, scanners. Programs ``sshd``, ``sshd-session`` (OpenSSH 9.8+
splits each connection into its own binary), ``sshd-auth`` (10.0) and old Linux's ``sshd(pam_unix)``.

Every sshd message becomes an ``auth`` event with an ``extra["ssh_event"]`` code; messages not known here
are still events (``ssh_event`` ``other``). User names are the attacker's text: kept verbatim, never parsed.
"""

from __future__ import annotations

import re

from netwarden.parse import fields
from netwarden.parse._messages import MessageParser, register_message
from netwarden.parse.base import ParseError
from netwarden.records import Event, SourceKind

_ADDR = r"(?<! port )(?P<ip>\S+)"  # never the number after "port": that is a later address's port
_PORT = r"(?: port (?P<port>\d{1,6}))?"
_PAM = r"(?:pam_unix\(sshd:auth\): |PAM )?"
_KIND = r"(?P<kind>invalid|authenticating)"
_BREAK_IN = r"(?: - POSSIBLE BREAK-IN ATTEMPT!?)?$"
# (ssh_event code, outcome, pattern) -- tried in order, the first match wins. sshd writes the user name as the
# client sent it, so a name may hold " from 8.8.8.8 port 22 ssh2: x": user names are greedy and the tails
# anchored, so the address is the LAST "from A port P" of the line -- the one sshd itself wrote.
_RULE_TEXT: tuple[tuple[str, str, str], ...] = (
    ("auth", "",
     r"^(?P<verdict>Failed|Accepted|Postponed) (?P<method>[a-z][a-z0-9-]{0,40}(?:/[a-z]{1,16})?) for "
     r"(?P<invalid>invalid user )?(?P<user>.*) from " + _ADDR + _PORT
     + r"(?: ssh[12]?)?(?:: (?P<info>.*))?$"),
    ("invalid_user", "failure", r"^[Ii]nvalid user (?P<user>.*) from " + _ADDR + _PORT + "$"),
    ("invalid_user_request", "failure", r"^input_userauth_request: invalid user (?P<user>.*)$"),
    ("break_in_attempt", "unknown",
     r"^reverse mapping checking getaddrinfo for (?P<name>\S+) \[(?P<ip>[^\]\s]+)\] failed" + _BREAK_IN),
    ("break_in_attempt", "unknown",
     r"^Address " + _ADDR + r" maps to (?P<name>\S+), but this does not map back to the address" + _BREAK_IN),
    ("pam_auth_failure", "failure", r"^" + _PAM + r"authentication failure; (?P<kv>.*)$"),
    ("pam_auth_failure", "failure",
     r"^" + _PAM + r"(?P<count>\d{1,9}) more authentication failures?; (?P<kv>.*)$"),
    ("pam_auth_failure", "failure",
     r"^PAM: [Aa]uthentication (?:failure|error) for (?:illegal user )?(?P<user>.*) from " + _ADDR
     + r"(?: via \S+)?$"),
    ("pam_user_unknown", "failure",
     r"^PAM: User not known to the underlying authentication module for (?:illegal user )?(?P<user>.*) from "
     + _ADDR + "$"),
    ("pam_check_pass", "unknown", r"^" + _PAM + r"check pass; user (?P<user>.*)$"),
    ("pam_max_retries", "failure",
     r"^" + _PAM + r"service\(sshd\) ignoring max retries; (?P<count>\d{1,9}) > \d+$"),
    ("session_opened", "success",
     r"^(?:pam_unix\(sshd:session\): )?session opened for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?"
     r"(?: by .*)?$"),
    ("session_closed", "unknown",
     r"^(?:pam_unix\(sshd:session\): )?session closed for user (?P<user>[^\s(]+).*$"),
    ("disconnect", "unknown",
     r"^Received disconnect from (?P<ip>\S+?)" + _PORT + r": ?(?P<code>\d{1,3}): (?P<reason>.*)$"),
    ("disconnect", "unknown",
     r"^Disconnected from (?:" + _KIND + " )?(?:user (?P<user>.*) )?" + _ADDR + _PORT + "$"),
    ("connection_closed", "unknown",
     r"^Connection (?:closed|reset) by (?:" + _KIND + r" user (?P<user>.*) )?" + _ADDR + _PORT + "$"),
    ("too_many_failures", "failure",
     r"^Disconnecting(?: " + _KIND + r" user (?P<user>.*) " + _ADDR + _PORT + r")?: "
     r"Too many authentication failures(?: for (?P<invalid>invalid user )?(?P<user2>.*))?$"),
    ("disconnect", "unknown",  # both user names are the client's: the first must repeat the prefix's
     r"^Disconnecting " + _KIND + r" user (?P<user>.*) " + _ADDR + _PORT
     + r": (?P<reason>Change of username or service not allowed: \((?P=user),.*)$"),
    ("disconnect", "unknown",  # sshd's own reasons hold no address: the last "A port P: " is the source
     r"^Disconnecting(?: " + _KIND + r" user (?P<user>.*) " + _ADDR + _PORT + r")?: (?P<reason>.*)$"),
    ("max_auth_attempts", "failure",
     r"^maximum authentication attempts exceeded for (?P<invalid>invalid user )?(?P<user>.*) from "
     + _ADDR + _PORT + r"(?: ssh2)?$"),
    ("auth_timeout", "failure",  # the OpenSSH 9.8+ listener names both ends and the child's pid
     r"^Timeout before authentication for (?:connection from " + _ADDR + r" to (?P<dst>[^\s,]+), pid = \d+"
     r"|(?P<ip2>\S+?)" + _PORT + ")$"),
    ("banner_exchange", "unknown",
     r"^banner exchange: Connection from (?P<ip>\S+?)" + _PORT + r": (?P<reason>.*)$"),
    ("no_identification", "unknown",
     r"^Did not receive identification string from (?P<ip>\S+?)" + _PORT + "$"),
    ("bad_protocol_version", "unknown",
     r"^Bad protocol version identification '.*' from " + _ADDR + _PORT + "$"),
    ("negotiation_failed", "unknown",
     r"^Unable to negotiate with " + _ADDR + _PORT + r": (?P<reason>.*)$"),
    ("kex_identification", "unknown", r"^kex_exchange_identification: (?P<reason>.*)$"),
    ("connection", "unknown",  # the only message naming the server's own address and port
     r"^Connection from " + _ADDR + _PORT
     + r"(?: on (?P<dst>\S+) port (?P<dport>\d{1,6}))?(?: rdomain \S*)?$"),
    ("user_not_allowed", "failure",
     r"^User (?P<user>\S+) from " + _ADDR + r" not allowed because (?P<reason>.*)$"),
    ("root_login_refused", "failure", r"^ROOT LOGIN REFUSED FROM (?P<ip>\S+?)" + _PORT + "$"),
)
_RARE = frozenset({"dst", "dport", "count", "code", "reason", "name"})  # groups only a few rules have
# (code, outcome, compiled pattern, whether it has one of the rare groups: the others need not look for them)
_RULES = [(code, outcome, rx, not _RARE.isdisjoint(rx.groupindex))
          for code, outcome, rx in ((c, o, re.compile(t, re.ASCII)) for c, o, t in _RULE_TEXT)]


def _set_chars(items: list) -> set[str] | None:
    """The characters of a parsed ``[...]`` (ASCII patterns); None for a negated set or a class not known here."""
    out: set[str] = set()
    for op, arg in items:
        if str(op) == "LITERAL":
            out.add(chr(arg))
        elif str(op) == "RANGE":
            out.update(map(chr, range(arg[0], arg[1] + 1)))
        elif str(op) == "CATEGORY" and str(arg) == "CATEGORY_DIGIT":
            out.update("0123456789")
        else:
            return None
    return out


def _first_chars(items: list) -> frozenset[str] | None:
    """The characters a parsed pattern (``re._parser``) can start with; None when it cannot tell (any)."""
    first: set[str] = set()
    for op, arg in items:
        name = str(op)
        if name == "AT":  # ^: matches nothing
            continue
        if name == "LITERAL":
            return frozenset(first | {chr(arg)})
        if name == "IN":
            chars = _set_chars(arg)
            return None if chars is None else frozenset(first | chars)
        if name == "SUBPATTERN":
            inner = _first_chars(list(arg[-1]))
        elif name == "BRANCH":
            branches = [_first_chars(list(b)) for b in arg[1]]
            inner = None if any(b is None for b in branches) else frozenset().union(*branches)
        elif name in ("MAX_REPEAT", "MIN_REPEAT") and arg[0] == 0:  # optional: it or what follows
            inner = _first_chars(list(arg[2]))
            if inner is None:
                return None
            first |= inner
            continue
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            inner = _first_chars(list(arg[2]))
        else:
            return None
        return None if inner is None else frozenset(first | inner)
    return None


def _rules_by_first_char() -> tuple[dict[str, tuple], tuple]:
    """For each first character of a message, the rules that can match it, in their order: a message tries a
    handful of rules instead of all thirty (each failed try costs a call)."""
    try:
        firsts = [_first_chars(list(re._parser.parse(rx, re.ASCII))) for _, _, rx in _RULE_TEXT]  # type: ignore[attr-defined]
    except Exception:  # re's parser is private: without it, every message tries every rule
        return {}, tuple(_RULES)
    chars = set().union(*(f for f in firsts if f is not None))
    by_char = {c: tuple(rule for rule, f in zip(_RULES, firsts) if f is None or c in f) for c in chars}
    return by_char, tuple(rule for rule, f in zip(_RULES, firsts) if f is None)


_RULES_BY_FIRST, _RULES_ANY_START = _rules_by_first_char()
_REPEATED = re.compile(r"^message repeated (\d{1,9}) times: \[ ?(.*)\]$", re.ASCII)
_LEVELS = ("error: ", "fatal: ")  # both 7 characters, cut off the message
_KEY = re.compile(r"^(?P<type>[A-Z][A-Z0-9-]{1,31}) (?P<fp>[^\s,]+)")
_KV = re.compile(r"(\w+)=(\S*)")
_PAM_USER = re.compile(r"\suser=")
_HOSTNAME = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9_.-]{1,253}$")


def _address(event: Event, text: str | None) -> str | None:
    """An IP address; a DNS name (sshd's UseDNS, PAM's rhost) goes to extra["rhost"] instead."""
    if not text:
        return None
    address = _ADDRESSES.get(text)
    if address is not None:
        return address
    try:
        address = fields.ip(text, "client address")
    except ParseError:
        if not _HOSTNAME.match(text):
            raise
        event.extra["rhost"] = text
        return None
    _remember_address(text, address)  # type: ignore[arg-type]
    return address


def _remember_address(text: str, address: str) -> None:
    if len(_ADDRESSES) >= 65536:
        _ADDRESSES.clear()
    _ADDRESSES[text] = address


# messages remembered by _SEEN and _SEEN_PORTS (each forgotten all at once when full). 8,192 were too few for
# 3,000 guessing addresses: each address's few exact messages (16,600 in all) were forgotten before they came
# again, and read anew (+0.5 s per 1M lines, bench_ssh many; +3.6 MB for the two at 27,000 usual messages)
_SEEN_MESSAGES = 32_768
_SHAPES_KEPT = 8_192  # shapes (a botnet's thousands of addresses write a few dozen), and shapes seen once
# only ASCII messages this long or shorter are remembered (longer ones, and the rare others, are read each time):
# an entry then holds at most ~1 KB (the message and a user name cut from it), so at most ~35 MB for each of the
# two message memos and ~9 MB for each shape memo, whatever a syslog sender writes
_SEEN_LENGTH = 256
# message -> what reading it gave: guessers repeat themselves (63 % of loghub's OpenSSH_2k sshd messages, 92 %
# of its Linux.log ones, are exact repeats of an earlier one), so each is read once. One memo for the process,
# not one per parser: a syslog stream keeps a parser per device (up to 4,096), and 4,096 memos of ~8 MB would
# not be bounded in any useful sense. What a message gives depends on its text alone, and values are immutable.
_SEEN: dict[str, tuple[tuple, dict]] = {}
# The same, for messages that differ only in the client's port (each connection has its own: "Failed password
# for root from A port P ssh2" is read once per user and address, not once per attempt). Keyed by the message
# with its last " port DIGITS" cut out (see _port_cut); kept only when the rule's own port group is that very
# run of digits, so the rest of the message reads the same whatever the digits are.
_SEEN_PORTS: dict[str, tuple[tuple, dict]] = {}
_PORT_RUN = re.compile(r"\d{1,5}(?!\d)", re.ASCII)  # a port as sshd writes it (0-65535 checked apart)
_SRC_IP, _SRC_PORT = 4, 5  # src_ip's and src_port's places in what the memos keep
# The same again, for messages that differ only in the client's IPv4 address (and port): a botnet's thousands of
# addresses write the same few messages ("Invalid user admin from A", "Failed password for root from A port P
# ssh2"), each read once per shape instead of once per address. Keyed by the message with its last IPv4 address
# (and then its last " port DIGITS" run, see _port_cut) cut out; kept only when that address is the source the
# reading gave, and when reading the message with other addresses (and ports) in their place gave the same but
# for them (_probes_agree). Addresses without a port and with one are two kinds of shape, each in its own memo.
_SEEN_SHAPES: dict[str, tuple[tuple, dict]] = {}
_SEEN_SHAPES_PORTS: dict[str, tuple[tuple, dict]] = {}
# shapes read once so far: a shape is checked (two probe reads) only when it comes again, or a dictionary attack
# (a new user name, so a new shape, on every line) would pay the probes on every line and gain nothing
_SHAPES_ONCE: dict[str, None] = {}
# an IPv4 address delimited by anything but a digit or a dot; the pattern reads the same backwards, so the first
# match in the reversed message is the message's last address (found in a few steps: it is near the end)
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])", re.ASCII)
# what a shape is checked with: addresses of other lengths than most, ports alike
_PROBES = (("1.0.0.7", 1), ("203.113.254.251", 65535))
_ADDRESSES: dict[str, str] = {}  # client address as written -> canonical (a guesser repeats its address)


def _port_cut(message: str) -> tuple[str, int, int] | None:
    """The message without its last " port DIGITS" run of 1-5 digits (the line feed, which no message holds, in its
    place), where the run starts, and the port it says; None when the last " port " is followed by no such run
    or by one above 65535."""
    at = message.rfind(" port ")
    if at < 0:
        return None
    run = _PORT_RUN.match(message, at + 6)
    if run is None:
        return None
    port = int(run.group())
    if port > 65535:
        return None
    return message[:at + 6] + "\n" + message[run.end():], at + 6, port


def _address_cut(message: str) -> tuple[str, int, str] | None:
    """The message without its last IPv4 address (a line feed in its place), where it starts, and the address
    as written; None when it has none or holds a line feed of its own (its shape could pose as another's)."""
    found = _IPV4.search(message[::-1])
    if found is None or "\n" in message:
        return None
    at, end = len(message) - found.end(), len(message) - found.start()
    return message[:at] + "\n" + message[end:], at, message[at:end]


def _remember(memo: dict[str, tuple[tuple, dict]], key: str, seen: tuple[tuple, dict],
              limit: int | None = None) -> None:
    if len(memo) >= (_SEEN_MESSAGES if limit is None else limit):
        memo.clear()
    memo[key] = seen


def _canonical_ipv4(text: str) -> bool:
    """True when ``text`` is an IPv4 address written as reading it would store it (no leading zeros, each
    part 0-255): what a shape answers for it is then what reading the message would give."""
    known = _ADDRESSES.get(text)
    if known is not None:
        return known == text
    try:
        known = fields.ip(text, "client address")
    except ParseError:
        return False
    _remember_address(text, known)  # type: ignore[arg-type]
    return known == text


def _port(event: Event, text: str | None) -> int | None:
    """The client's port. sshd never writes one above 65535: such a line is forged or damaged, but its
    address still counts (brute force), so only the port is dropped, and the reason kept."""
    try:
        return fields.port(text, "client port")
    except ParseError as exc:
        event.extra["dropped"] = {"src_port": text[:16], "reason": exc.reason}
        return None


@register_message
class Sshd(MessageParser):
    """OpenSSH server log messages."""

    name = "sshd"
    description = "OpenSSH server: logins, failures, invalid users, disconnects, scanner traces"
    programs = frozenset({"sshd", "sshd-session", "sshd-auth", "sshd(pam_unix)"})

    def fill(self, event: Event, program: str | None, message: str) -> None:
        plain = event.src_ip is None and event.user is None and event.dst_ip is None and event.dst_port is None
        seen = _SEEN.get(message) if plain else None  # the syslog parser asked known() before
        if seen is not None:
            (event.source_kind, event.app_protocol, event.transport, event.outcome, event.src_ip, event.src_port,
             event.user, event.dst_ip, event.dst_port) = seen[0]
            event.extra.update(seen[1])
            return
        before = len(event.extra)
        port_at = self._read(event, message)
        if plain and len(message) <= _SEEN_LENGTH and message.isascii():
            # _read only adds keys, in this order; kept as a dict (merged into a new event's extra in one step) that
            # nothing changes
            added = dict(tuple(event.extra.items())[before:])
            if not any(isinstance(value, (dict, list)) for value in added.values()):  # shared: immutable values only
                values = (event.source_kind, event.app_protocol, event.transport, event.outcome, event.src_ip,
                          event.src_port, event.user, event.dst_ip, event.dst_port)
                if len(_SEEN) >= _SEEN_MESSAGES:
                    _SEEN.clear()
                _SEEN[message] = (values, added)
                cut = _port_cut(message) if port_at is not None and event.src_port is not None else None
                by_port = cut is not None and cut[1] == port_at  # the rule's port is the run cut out
                if by_port:
                    if len(_SEEN_PORTS) >= _SEEN_MESSAGES:
                        _SEEN_PORTS.clear()
                    _SEEN_PORTS[cut[0]] = (values, added)
                if event.src_ip is not None:
                    self._remember_shape(message, values, added, port_at if by_port else None)

    def known(self, message: str) -> tuple[tuple, dict] | None:
        seen = _SEEN.get(message)
        if seen is not None:
            return seen
        by_port = _port_cut(message) if _SEEN_PORTS or _SEEN_SHAPES_PORTS else None
        if by_port is not None and _SEEN_PORTS:
            seen = _SEEN_PORTS.get(by_port[0])
            if seen is not None:
                values = seen[0]
                return values[:_SRC_PORT] + (by_port[2],) + values[_SRC_PORT + 1:], seen[1]
        if not (_SEEN_SHAPES or _SEEN_SHAPES_PORTS):
            return None
        shape = _address_cut(message)
        if shape is None:
            return None
        key, _, address = shape
        if _SEEN_SHAPES_PORTS and by_port is not None:  # no " port N" in the message: none in its shape either
            cut = _port_cut(key)
            if cut is not None:
                seen = _SEEN_SHAPES_PORTS.get(cut[0])
                if seen is not None and _canonical_ipv4(address):
                    values = seen[0]
                    # this address's next attempts (other ports) are then answered by _SEEN_PORTS, for less
                    _remember(_SEEN_PORTS, by_port[0], (values[:_SRC_IP] + (address,) + values[_SRC_PORT:], seen[1]))
                    return values[:_SRC_IP] + (address, cut[2]) + values[_SRC_PORT + 1:], seen[1]
        seen = _SEEN_SHAPES.get(key)
        if seen is None or not _canonical_ipv4(address):
            return None
        values = seen[0]
        seen = values[:_SRC_IP] + (address,) + values[_SRC_IP + 1:], seen[1]
        _remember(_SEEN, message, seen)  # and its repeats by _SEEN
        return seen

    def _remember_shape(self, message: str, values: tuple, added: dict, port_at: int | None) -> None:
        """Keep what reading ``message`` gave by its shape (``_SEEN_SHAPES``): when its last IPv4 address is the
        source, and the message read with other addresses (and ports, when ``port_at`` says where the rule read
        the port) in their places gives the same but for them."""
        shape = _address_cut(message)
        if shape is None or shape[2] != values[_SRC_IP]:
            return
        key, at, address = shape
        memo, port_span = _SEEN_SHAPES, None
        if port_at is not None:
            cut = _port_cut(key)
            if cut is not None and cut[1] == (port_at if port_at < at else port_at - len(address) + 1):
                key, memo = cut[0], _SEEN_SHAPES_PORTS
                port_span = (port_at, _PORT_RUN.match(message, port_at).end())  # type: ignore[union-attr]
        if key in memo:
            return
        if key not in _SHAPES_ONCE:
            _remember(_SHAPES_ONCE, key, None, _SHAPES_KEPT)  # type: ignore[arg-type]
            return
        if not self._probes_agree(message, values, added, (at, at + len(address)), port_span):
            return
        if len(memo) >= _SHAPES_KEPT:
            memo.clear()
        memo[key] = (values, added)

    def _probes_agree(self, message: str, values: tuple, added: dict, address_span: tuple[int, int],
                      port_span: tuple[int, int] | None) -> bool:
        """Whether ``message`` read with each of ``_PROBES`` in place of its address (and port) gives ``values``
        and ``added`` with the probe's address (and port) instead: nothing else in its reading depends on them."""
        for address, port in _PROBES:
            spans = sorted([(address_span, address)] + ([(port_span, str(port))] if port_span else []),
                           reverse=True)
            text = message
            for (start, end), value in spans:
                text = text[:start] + value + text[end:]
            probe = Event(None, SourceKind.SYSLOG)
            try:
                self._read(probe, text)
            except ParseError:
                return False
            expected = values[:_SRC_IP] + ((address, port) if port_span else (address, values[_SRC_PORT])) \
                + values[_SRC_PORT + 1:]
            got = (probe.source_kind, probe.app_protocol, probe.transport, probe.outcome, probe.src_ip,
                   probe.src_port, probe.user, probe.dst_ip, probe.dst_port)
            if got != expected or tuple(probe.extra.items()) != tuple(added.items()):  # in the same order too
                return False
        return True

    def _read(self, event: Event, message: str) -> int | None:
        """Fill ``event`` from ``message``; returns where in ``message`` the client's port is, when a rule read
        one (for ``_SEEN_PORTS``)."""
        event.source_kind = SourceKind.AUTH
        event.app_protocol = "ssh"
        event.transport = "tcp"
        extra = event.extra
        text = message.rstrip()
        shift = 0  # where text starts in message
        if text.startswith("message repeated ") and (rep := _REPEATED.match(text)):
            extra["repeat_count"] = int(rep.group(1))
            text = rep.group(2).rstrip()
            shift = rep.start(2)
        if text.startswith(_LEVELS):
            text = text[7:]
            shift += 7
        if text.endswith(" [preauth]"):
            extra["preauth"] = True
            text = text[:-10]
        for code, outcome, rx, rare in _RULES_BY_FIRST.get(text[:1], _RULES_ANY_START):
            m = rx.match(text)
            if m is not None:
                break
        else:
            extra["ssh_event"] = "other"
            event.outcome = "unknown"
            return None
        g = m.groupdict()
        if code == "auth":
            code, outcome = self._auth(event, g)
        elif g.get("kv") is not None:
            self._pam(event, g["kv"])
        extra["ssh_event"] = code
        event.outcome = outcome
        event.src_ip = _address(event, g.get("ip") or g.get("ip2")) or event.src_ip
        port = g.get("port")
        event.src_port = None if port is None else _port(event, port)
        user = g.get("user") or g.get("user2")
        if code == "pam_check_pass" and user == "unknown":
            extra["user_unknown"] = True  # PAM's words for "no such account", not a user name
        elif user is not None and event.user is None:
            event.user = fields.text(user, 256)
        if g.get("invalid") or g.get("kind") == "invalid":
            extra["invalid_user"] = True
        if rare:
            self._rare(event, g)
        return None if port is None else m.start("port") + shift

    @staticmethod
    def _rare(event: Event, g: dict) -> None:
        extra = event.extra
        if g.get("dst"):
            event.dst_ip = fields.ip(g["dst"], "server address")
        if g.get("dport"):
            event.dst_port = fields.port(g["dport"], "server port")
        if g.get("count"):
            extra["count"] = int(g["count"])
        if g.get("code"):
            extra["disconnect_code"] = int(g["code"])
        if g.get("reason"):
            extra["reason"] = fields.text(g["reason"], 512)
        if g.get("name"):
            extra["rdns"] = g["name"][:253]

    @staticmethod
    def _auth(event: Event, g: dict) -> tuple[str, str]:
        verdict, method = g["verdict"], g["method"]
        event.extra["auth_method"] = method
        info = g.get("info")
        if info:
            key = _KEY.match(info)
            if key:
                event.extra["key_type"] = key.group("type")
                event.extra["key_fingerprint"] = key.group("fp")
            else:
                event.extra["auth_info"] = fields.text(info, 512)
        outcome = {"Failed": "failure", "Accepted": "success"}.get(verdict, "unknown")
        return f"{verdict.lower()}_{method.split('/')[0].replace('-', '_')}", outcome

    @staticmethod
    def _pam(event: Event, kv: str) -> None:
        # pam_unix writes "... ruser= rhost=ADDR  user=NAME" with the client's NAME last and verbatim: the
        # keys before the first " user=" are PAM's, so a name like "x rhost=8.8.8.8" cannot pose as rhost
        cut = _PAM_USER.search(kv)
        values: dict[str, str] = {}
        for key, value in _KV.findall(kv[:cut.start()] if cut else kv):
            values.setdefault(key, value)
        if cut:
            values["user"] = kv[cut.end():].strip()
        event.src_ip = _address(event, values.get("rhost"))
        if values.get("user"):
            event.user = fields.text(values["user"], 256)
        if values.get("ruser"):
            event.extra["ruser"] = values["ruser"][:256]
        if values.get("tty"):
            event.extra["tty"] = values["tty"][:64]
