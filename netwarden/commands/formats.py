"""``netwarden formats``: the input formats NetWarden reads, with an example line each."""

from __future__ import annotations

import click
from rich.text import Text

from netwarden.commands.shared.terminal import out, safe


@click.command()
def formats() -> None:
    """List the input formats with an example line each."""
    from netwarden.parse import parsers
    from netwarden.parse._messages import message_parsers

    for name, cls in parsers().items():
        out.print(Text.assemble((name, "bold cyan"), "  ", safe(cls.description)))
        out.print(Text("  " + safe(cls.example)))
    out.print(Text.assemble(("pcap", "bold cyan"), "  ", "packet captures: libpcap .pcap (micro/nanosecond, both byte "
                            "orders) and .pcapng, plain or .gz, recognised by content; packets become flows "
                            "(and HTTP requests, DNS queries)"))
    out.print(Text("  tcpdump -i eth0 -w capture.pcap; netwarden ingest capture.pcap"))
    messages = message_parsers()
    if messages:
        out.print(Text("\ninside syslog messages (recognised automatically):", style="bold"))
        for name, parser in messages.items():
            out.print(Text.assemble(("  " + name, "cyan"), "  ", safe(getattr(parser, "description", ""))))
