"""User agents parsed into browser, operating system, device and bot, with ua-parser (the maintained Python
port of the uap-core rules; its rules ship in the ``ua-parser-builtins`` package, nothing is downloaded).

>>> parse_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) ... Mobile/15E148 Safari/604.1")
Agent(browser='Mobile Safari 17', os='iOS', device='iPhone', bot=False)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ua_parser import parse

OTHER = "Other"
# scripted clients and scanners that uap-core names as browsers but that are not people
TOOLS = re.compile(r"(?i)\b(curl|wget|python-requests|python-urllib|aiohttp|go-http-client|java/|okhttp|"
                   r"libwww-perl|sqlmap|nikto|nmap|masscan|zgrab|nuclei|gobuster|dirbuster|wpscan|httpclient|"
                   r"scrapy|headlesschrome|phantomjs)")
DESKTOPS = {"Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Debian", "Fedora", "Chrome OS", "FreeBSD",
            "OpenBSD"}
MAX_LENGTH = 1000  # longer strings are cut before parsing: the rules are regular expressions


@dataclass(frozen=True, slots=True)
class Agent:
    browser: str
    os: str
    device: str
    bot: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=65536)
def parse_agent(text: str | None) -> Agent:
    if not text or not text.strip():
        return Agent(OTHER, OTHER, OTHER, False)
    text = text[:MAX_LENGTH]
    result = parse(text)
    browser = result.user_agent.family if result.user_agent else OTHER
    if result.user_agent and result.user_agent.major:
        browser = f"{browser} {result.user_agent.major}"
    os = result.os.family if result.os else OTHER
    device = result.device.family if result.device else OTHER
    bot = device == "Spider" or bool(TOOLS.search(text))
    if bot and device in ("Spider", OTHER):
        device = "Bot"
    elif device == OTHER and os in DESKTOPS:
        device = "Desktop"
    return Agent(browser, os, device, bot)
