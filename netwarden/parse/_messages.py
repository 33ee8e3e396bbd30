"""The second registry: parsers for what is *inside* a syslog message (sshd, netfilter, RouterOS ...).

The syslog parser (``netwarden.parse.syslog``) reads the header -- time, host, program, pid -- and hands
``(program, message)`` to the first message parser that claims it. A message parser fills the event the
header parser started; it never sees the header. Writing one means one small module::

    @register_message
    class Postfix(MessageParser):
        name = "postfix"
        description = "Postfix smtpd connection and SASL lines"
        programs = frozenset({"postfix/smtpd"})

        def fill(self, event, program, message):
            event.source_kind = SourceKind.AUTH
            ...  # raise ParseError for a claimed message with an impossible value

Its golden file is ``tests/data/golden/syslog.<name>.log``, fed through the syslog parser.
"""

from __future__ import annotations

import re
from typing import ClassVar

from netwarden.plugins import Registry
from netwarden.records import Event


class MessageParser:
    """Base of every message parser. One instance lives inside one syslog parser instance."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: program names (lower case) whose messages this parser takes, whatever they say
    programs: ClassVar[frozenset[str]] = frozenset()

    def claims(self, program: str | None, message: str) -> bool:
        """Whether this parser reads ``message``; the default looks at the program name only."""
        return program is not None and program.lower() in self.programs

    def claims_program(self, program: str | None) -> bool | None:
        """Whether this parser takes every message of ``program`` (True), none (False), or it depends on the
        message (None: ``claims`` is asked for each). The syslog parser asks this once per program name, so
        a parser that looks at messages too should say False for the programs it never takes."""
        if type(self).claims is MessageParser.claims:
            return program is not None and program.lower() in self.programs
        return None

    def claim_prefixes(self, program: str | None) -> tuple[str, ...] | None:
        """For a ``program`` whose messages ``claims`` decides: a start every message it claims has (the syslog
        parser then asks ``claims`` only about those, saving a call per line of other programs' messages);
        None when any message may be claimed."""
        return None

    def fill(self, event: Event, program: str | None, message: str) -> None:
        """Complete ``event`` from the message; raise ParseError for impossible values."""
        raise NotImplementedError

    def known(self, message: str) -> tuple[tuple, dict] | None:
        """What ``fill`` gave for this same message before, if this parser remembers it: the event's
        (source_kind, app_protocol, transport, outcome, src_ip, src_port, user, dst_ip, dst_port) and a dict
        (never to be changed) of what it added to ``extra``, in order, for an event that had none of those fields set. None: call
        ``fill``. The syslog parser then builds the event in one step."""
        return None


#: parsers of what is inside a syslog message; they live in the modules of netwarden.parse too
MESSAGE_PARSERS: Registry[type[MessageParser]] = Registry("message parser", "netwarden.parse",
                                                          required=("name", "description"))
MESSAGE_REGISTRY = MESSAGE_PARSERS.entries
register_message = MESSAGE_PARSERS.register  # class decorator: make a message parser available to syslog


def message_parsers() -> dict[str, type[MessageParser]]:
    """All message parsers by name, sorted (imports every parser module first)."""
    return MESSAGE_PARSERS.all()


# Firewall log prefixes are free text chosen by an administrator; only act on the obvious words.
_BLOCKED = re.compile(r"BLOCK|DROP|REJECT|DENY|DENIED", re.IGNORECASE)
_ALLOWED = re.compile(r"ACCEPT|ALLOW|PERMIT|PASS(?!WORD)", re.IGNORECASE)


def action_from_prefix(prefix: str | None) -> str | None:
    """``blocked``/``allowed`` when a log prefix says so plainly, else None."""
    if not prefix:
        return None
    if _BLOCKED.search(prefix):
        return "blocked"
    if _ALLOWED.search(prefix):
        return "allowed"
    return None


# IP protocol numbers some firewalls print instead of names
PROTO_NUMBERS = {"1": "icmp", "2": "igmp", "6": "tcp", "17": "udp", "41": "ipv6", "47": "gre", "50": "esp",
                 "51": "ah", "58": "icmpv6", "132": "sctp"}

TCP_FLAG_ORDER = ("SYN", "ACK", "FIN", "RST", "PSH", "URG", "ECE", "CWR")


def tcp_flags(present: set[str] | frozenset[str]) -> str | None:
    """A canonical comma list of TCP flag words (same order for every source)."""
    found = [flag for flag in TCP_FLAG_ORDER if flag in present]
    return ",".join(found) if found else None
