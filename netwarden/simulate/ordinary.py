"""Ordinary people, scripted: what a web shop, its admin area and its servers see on a normal day.

Everything here is benign on purpose, and each piece is something detectors have mistaken for an attack:
shoppers searching for "O'Neill jacket" or "select a size" (SQL-ish words), customers who mistype their
password twice and then log in (and a company NAT where dozens of customers log in successfully), 404s,
the admin opening the basic-auth admin area (every browser's first request is answered 401), admins who
reconnect over SSH all day and mistype now and then, a CI job logging in every few minutes, a monitoring
probe, a steady crawler, and the nightly backup: a burst of SSH connections and large transfers.

:class:`ToolAttacks` writes what real tools leave in the same logs (hydra against the login form, basic
auth and SSH; hping3's SYN flood; a firewall dropping a flood by rate limit), so the corpus test can check
that the detectors that stay silent on people still catch tools.

Lines go through NetWarden's real parsers (:func:`netwarden.simulate.outputs.to_events`). Deterministic
for a seed.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, quote_plus

from netwarden.simulate import office
from netwarden.simulate.traffic import SYN, TCP, Emission, Flow, Simulator, _clf_time

SHOP = "www"
ADMIN_USER = "shopadmin"
CUSTOMERS_NAT = "81.145.30.18"  # a company's NAT: many customers behind one address
BACKUP = "10.20.0.5"
NAS = "10.20.0.50"
MONITOR = "10.20.0.4"
CI = "10.20.0.6"
CRAWLER = "66.249.66.1"
CRAWLER_AGENT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SEARCHES = ("O'Neill jacket", "select a size", "union station", "drop-in shorts", "rock & roll t-shirt",
            "women's boots 38", "kids' jackets -sale", "1=1 yoga mat", "exec chair", "<3 gift card",
            "script font mug", "delete this later", "50% off", "table lamp \"brass\"", "or else jacket")
PAGES = ("/", "/shop", "/shop/jackets", "/shop/boots", "/shop/t-shirts", "/product/1042", "/product/2211",
         "/product/3310?size=M&colour=navy", "/cart", "/checkout", "/about", "/contact", "/faq")
ASSETS = ("/static/shop.css", "/static/shop.js", "/static/logo.svg", "/img/hero.webp", "/favicon.ico")
MISSING = ("/shop/jakets", "/product/99999", "/img/old-banner.png", "/apple-touch-icon.png", "/robots.txt.bak")


class OrdinaryDay(Simulator):
    """A day of ordinary activity from ``start`` (the emissions are sorted by time)."""

    def __init__(self, seed: int = 1, *, shoppers: int = 60) -> None:
        super().__init__(seed, rate=0, attacks=())
        self.shoppers = shoppers

    def day(self, start: datetime | float, hours: float = 24.0) -> list[Emission]:
        t0 = start.timestamp() if isinstance(start, datetime) else float(start)
        span = hours * 3600
        rng = self.rng
        out: list[Emission] = []
        for _ in range(self.shoppers):
            out += self.shopper(t0 + rng.uniform(0, span - 1800), rng.choice(office.VISITORS))
        for i in range(int(hours * 40)):  # a mobile carrier's NAT: many customers, some mistyping, all get in
            out += self.login(t0 + i * 90 + rng.uniform(0, 30), CUSTOMERS_NAT, typos=rng.choice((0, 0, 0, 1, 2)))
        for i in range(max(1, int(hours // 2))):
            out += self.login(t0 + i * 7200 + 300, rng.choice(office.VISITORS), typos=rng.choice((1, 2, 3)))
            out += self.admin_area(t0 + i * 7200 + 900, "10.20.0.21", wrong_password=i % 2 == 0)
        for i in range(int(hours * 6)):  # admins reconnect all day (from the office and from home via its NAT)
            admin, user = rng.choice(sorted(office.ADMINS.items()))
            client = admin if i % 3 else office.PUBLIC
            out += self.ssh_login(t0 + i * 600 + rng.uniform(0, 300), client, user,
                                  typos=rng.choice((0, 0, 0, 1, 2, 3)))
        for i in range(int(hours * 12)):  # a CI job deploying with its key every five minutes
            out += self.ssh_login(t0 + i * 300 + 7, CI, "deploy", typos=0, key=True)
        for i in range(int(hours * 60)):  # a monitoring probe and a steady crawler
            out.append(self.access(t0 + i * 60 + 1, MONITOR, "GET", "/health", 200, 2, "check_http/v2.3.3"))
            out.append(self.access(t0 + i * 60 + 20, CRAWLER, "GET", rng.choice(PAGES), 200,
                                   rng.randint(4000, 40_000), CRAWLER_AGENT))
        out += self.backup(t0 + min(span - 1200, 2 * 3600))
        out.sort()
        return out

    # -- people -------------------------------------------------------------------------------------

    def access(self, ts: float, client: str, method: str, url: str, status: int, size: int, agent: str,
               user: str = "-", referrer: str = "-") -> Emission:
        message = (f'{client} - {user} [{_clf_time(ts)}] "{method} {url} HTTP/1.1" {status} {size} '
                   f'"{referrer}" "{agent}"')
        return self._syslog(ts, SHOP, "nginx", message, 190)

    def page(self, ts: float, client: str, url: str, agent: str, status: int = 200, user: str = "-") -> list[Emission]:
        """A page and the assets a browser fetches with it."""
        out = [self.access(ts, client, "GET", url, status, self.rng.randint(3000, 50_000) if status == 200 else 153,
                           agent, user)]
        if status == 200:
            for i, asset in enumerate(self.rng.sample(ASSETS, self.rng.randint(2, 5))):
                out.append(self.access(ts + 0.05 * (i + 1), client, "GET", asset, 200, self.rng.randint(500, 90_000),
                                       agent, user, f"https://shop.example.com{url.split('?')[0]}"))
        return out

    def shopper(self, ts: float, client: str) -> list[Emission]:
        rng = self.rng
        agent = rng.choice(office.USER_AGENTS)
        out: list[Emission] = []
        t = ts
        for _ in range(rng.randint(3, 12)):
            roll = rng.random()
            if roll < 0.35:  # a search, as browsers send it: spaces as +, quotes raw or escaped
                words = rng.choice(SEARCHES)
                q = quote_plus(words, safe="'") if rng.random() < 0.5 else quote(words, safe="")
                url = f"/search?q={q}"
            elif roll < 0.45:
                url = rng.choice(MISSING)
            else:
                url = rng.choice(PAGES)
            out += self.page(t, client, url, agent, 404 if url in MISSING else 200)
            t += rng.uniform(4, 90)
        return out

    def login(self, ts: float, client: str, typos: int = 0) -> list[Emission]:
        """The login form: view it, submit it wrong ``typos`` times (the form again), then in (303)."""
        agent = self.rng.choice(office.USER_AGENTS)
        out = self.page(ts, client, "/account/login", agent)
        t = ts + self.rng.uniform(6, 20)
        for _ in range(typos):
            out.append(self.access(t, client, "POST", "/account/login", 200, 5120, agent))
            t += self.rng.uniform(5, 15)
        out.append(self.access(t, client, "POST", "/account/login", 303, 0, agent))
        out += self.page(t + 0.3, client, "/account", agent)
        return out

    def admin_area(self, ts: float, client: str, wrong_password: bool) -> list[Emission]:
        """Basic auth: the browser's first requests are challenged (401, no user: the page and the assets it
        asked for in parallel), then the same with credentials; sometimes a wrong password first."""
        agent = office.USER_AGENTS[0]
        out = [self.access(ts + 0.01 * i, client, "GET", url, 401, 381, agent)
               for i, url in enumerate(("/admin/", "/admin/admin.css", "/admin/admin.js", "/admin/logo.svg",
                                        "/admin/api/stats", "/admin/api/orders?since=today"))]
        t = ts + self.rng.uniform(3, 8)
        if wrong_password:
            out.append(self.access(t, client, "GET", "/admin/", 401, 381, agent, ADMIN_USER))
            t += self.rng.uniform(4, 10)
        out += self.page(t, client, "/admin/", agent, user=ADMIN_USER)
        for i, url in enumerate(("/admin/orders", "/admin/orders?status=open", "/admin/products/1042/edit")):
            out += self.page(t + 20 * (i + 1), client, url, agent, user=ADMIN_USER)
        out.append(self.access(t + 90, client, "POST", "/admin/products/1042/edit", 302, 0, agent, ADMIN_USER))
        return out

    def ssh_login(self, ts: float, client: str, user: str, typos: int, key: bool = False) -> list[Emission]:
        host_index = self.rng.randrange(len(office.SSH_SERVERS))
        server, host = office.SSH_SERVERS[host_index], f"srv{host_index + 1}"
        pid, port = self._pid_next(), self._port()
        out = []
        t = ts
        for _ in range(typos):  # a person retyping: seconds apart
            out.append(self._syslog(t, host, f"sshd[{pid}]", f"Failed password for {user} from {client} port {port} ssh2", 38))
            t += self.rng.uniform(4, 12)
        method = "publickey" if key else "password"
        suffix = ": ED25519 SHA256:Jd0cKz1k3lB7mD2qTg1xq5h9yOaV4s0Zf8n2uXwP6rE" if key else ""
        out.append(self._syslog(t, host, f"sshd[{pid}]", f"Accepted {method} for {user} from {client} port {port} ssh2{suffix}", 38))
        out.append(self._syslog(t + 0.1, host, f"sshd[{pid}]",
                                f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)", 38))
        out += self._session(ts, client, server, 22, self.rng.randint(3000, 40_000), self.rng.randint(5000, 400_000))
        return out

    def backup(self, ts: float) -> list[Emission]:
        """The nightly backup: rsync over SSH to every server in a burst, then a large copy to the NAS."""
        out: list[Emission] = []
        t = ts
        for _ in range(40):
            for host_index, server in enumerate(office.SSH_SERVERS):
                pid, port = self._pid_next(), self._port()
                host = f"srv{host_index + 1}"
                out.append(self._syslog(t, host, f"sshd[{pid}]",
                                        f"Accepted publickey for backup from {BACKUP} port {port} ssh2: "
                                        "RSA SHA256:u1i3Qm0tYb2Vv8cXk9Lr4s7pQe6Zw5Hn3Jd2Fa1Gy0o", 38))
                out += self._session(t, BACKUP, server, 22, self.rng.randint(20_000, 200_000),
                                     self.rng.randint(2_000_000, 80_000_000))
                t += self.rng.uniform(0.5, 3)
        for i in range(6):  # then the archive goes to the NAS
            out += self._session(t + 60 * i, BACKUP, NAS, 873, 700_000_000, 40_000)
        return out


class ToolAttacks(Simulator):
    """What real attack tools leave in the same logs; each method returns (emissions, attacker)."""

    def __init__(self, seed: int = 1) -> None:
        super().__init__(seed, rate=0, attacks=())
        self.day = OrdinaryDay(seed)

    def hydra_form(self, ts: float, src: str = "45.148.10.95") -> tuple[list[Emission], str]:
        """hydra http-post-form: 16 tasks, the form again (200) for every wrong password, then 302."""
        agent = "Mozilla/4.0 (Hydra)"
        out = [self.day.access(ts + i * 0.06, src, "POST", "/account/login", 200, 5120, agent) for i in range(400)]
        out.append(self.day.access(ts + 25, src, "POST", "/account/login", 302, 0, agent))
        return out, src

    def hydra_basic(self, ts: float, src: str = "194.26.29.120") -> tuple[list[Emission], str]:
        """hydra http-get on a basic-auth area: every try carries a user name and is refused."""
        users = ("admin", "administrator", "root", "shopadmin", "manager", "webmaster")
        out = [self.day.access(ts + i * 0.1, src, "GET", "/admin/", 401, 381, "Mozilla/4.0 (Hydra)", users[i % len(users)])
               for i in range(300)]
        return out, src

    def hydra_ssh_root(self, ts: float, src: str = "218.92.0.112") -> tuple[list[Emission], str]:
        """hydra -l root -t 4 ssh: six wrong passwords at machine pace, then the right one."""
        out = []
        for i in range(6):
            pid, port = self._pid_next(), self._port()
            out.append(self._syslog(ts + i * 0.4, "srv1", f"sshd[{pid}]",
                                    f"Failed password for root from {src} port {port} ssh2", 38))
        out.append(self._syslog(ts + 2.6, "srv1", f"sshd[{self._pid_next()}]",
                                f"Accepted password for root from {src} port {self._port()} ssh2", 38))
        return out, src

    def syn_flood(self, ts: float, sources: int = 1, target: str = office.PUBLIC,
                  port: int = 443) -> tuple[list[Emission], str]:
        """hping3 -S --flood -p PORT (with --rand-source when ``sources`` > 1): SYNs never completed."""
        out = []
        for i in range(6000):
            src = "37.19.200.9" if sources == 1 else f"{office.FLOOD_SOURCES_PREFIX[i % 4]}{(i * 7) % 250 + 1}.{i % 253 + 1}"
            t = ts + i / 200
            flow = Flow(src, target, self._port(), port, TCP, SYN, 60, 1, t, t)
            out.append(self._emit(t, flow=flow))
        return out, ("37.19.200.9" if sources == 1 else target)

    def rate_limit_drops(self, ts: float, target: str = office.PUBLIC, port: int = 443) -> tuple[list[Emission], str]:
        """A firewall dropping a SYN flood by its rate limit; its LOG rule is limited too (--limit 5/s)."""
        out = []
        for i in range(900):
            src = f"{office.FLOOD_SOURCES_PREFIX[i % 4]}{i % 250 + 1}.{(i * 11) % 253 + 1}"
            msg = (f"[SYN-FLOOD DROP] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:1b:21:aa:bb:cc:08:00 SRC={src} "
                   f"DST={target} LEN=60 TOS=0x00 PREC=0x00 TTL=51 ID={i + 1} PROTO=TCP SPT={1024 + i} DPT={port} "
                   f"WINDOW=29200 RES=0x00 SYN URGP=0")
            out.append(self._syslog(ts + i / 5, "gw", "kernel", msg, 4))
        return out, target


__all__ = ["OrdinaryDay", "ToolAttacks"]
