"""The simulated office: its machines, people and the outside world it talks to.

External addresses are real public allocations (so the map shows countries) that the simulator only writes
into log lines and flow records: nothing is ever sent to them. Intel-feed addresses come from the example
feed shipped with NetWarden (documentation ranges, RFC 5737).
"""

from __future__ import annotations

LAN = "10.20.0.0/24"
GATEWAY = "10.20.0.1"  # the router: NetFlow exporter and firewall
PUBLIC = "81.2.69.142"  # the office's internet address (the gateway's outside)
RESOLVER = "10.20.0.2"
MAIL = "10.20.0.3"
WEB = "10.20.0.10"  # the intranet/public web server (nginx)
SSH_SERVERS = ("10.20.0.10", "10.20.0.11", "10.20.0.12")
WORKSTATIONS = tuple(f"10.20.0.{n}" for n in range(21, 37))
ADMINS = {"10.20.0.21": "alice", "10.20.0.22": "bob"}
UPSTREAM_DNS = ("9.9.9.9", "1.1.1.1")

# popular sites the staff browse (address, typical response size scale)
SITES = (
    ("142.250.185.78", 1.0), ("151.101.1.69", 0.6), ("104.16.132.229", 0.8), ("13.107.42.14", 1.4),
    ("185.199.108.153", 0.5), ("31.13.92.36", 1.2), ("17.253.144.10", 0.7), ("2.16.186.11", 0.9),
    ("52.84.150.39", 1.1), ("91.198.174.192", 0.4), ("212.58.244.22", 0.6), ("133.242.0.3", 0.3),
)
# visitors of the public web server: customers from a few countries
VISITORS = ("80.72.200.14", "84.17.46.2", "92.184.100.5", "77.12.48.200", "5.146.200.17", "81.145.30.18",
            "95.90.240.3", "24.48.0.1", "174.112.9.33", "49.255.14.2", "61.68.1.1", "200.160.2.3",
            "41.203.64.9", "102.65.8.10", "103.21.244.8", "110.33.122.75", "2a02:908:1::7")
PAGES = ("/", "/index.html", "/products", "/products/widgets", "/products/gadgets", "/about", "/contact",
         "/blog", "/blog/2026/11/new-office", "/support", "/search?q=widget", "/careers", "/pricing")
ASSETS = ("/static/site.css", "/static/app.js", "/static/logo.svg", "/img/hero.jpg", "/favicon.ico")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
)

# attackers (public addresses well known for scanning and guessing) and intel-feed listed addresses
SCANNERS = ("45.155.205.233", "193.163.125.91", "162.142.125.12", "89.248.165.74")
GUESSERS = ("61.177.172.60", "218.92.0.112", "179.43.180.106", "92.118.39.57")
WEB_ATTACKERS = ("185.220.101.34", "45.148.10.95", "194.26.29.120", "103.145.13.20")
EXFIL_DESTINATIONS = ("185.225.74.50", "5.188.86.172", "139.59.4.18")
INTEL_LISTED = ("203.0.113.66", "203.0.113.99", "198.51.100.23", "198.51.100.77")
FLOOD_SOURCES_PREFIX = ("171.25.", "117.50.", "37.19.", "200.58.")
