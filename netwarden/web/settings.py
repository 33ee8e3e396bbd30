"""The ``[web]`` settings section."""

from pydantic import Field

from netwarden.settings_base import Section


class WebSettings(Section):
    """The web application (``netwarden serve``): listen address, TLS, sessions, login lockout, and the live
    collectors the server runs beside it.

    Addresses are ``HOST:PORT`` (``:5514`` for every address, ``[::1]:5514`` for IPv6); an empty list turns
    that listener off.
    """

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    tls_cert: str = ""  # PEM; with tls_key the server speaks HTTPS and cookies are Secure
    tls_key: str = ""
    session_hours: float = Field(12, gt=0)  # a session ends this long after login
    idle_minutes: float = Field(60, gt=0)  # ... or after this long without a request
    lockout_failures: int = Field(5, ge=1)  # failed logins for one user name within lockout_minutes
    lockout_address_failures: int = Field(20, ge=1)  # failed logins from one address within lockout_minutes
    lockout_minutes: float = Field(15, gt=0)
    # request bodies (see netwarden/web/bodies.py): JSON and forms; multipart uploads (model lab) and NDJSON intake
    max_body_mib: float = Field(4, gt=0)
    max_upload_mib: float = Field(200, gt=0)
    vendor_dir: str = ""  # where npm installed the front-end libraries; default: node_modules in the checkout
    # dashboard and list answers are reused for this long (0: never); see netwarden/web/cache.py
    cache_seconds: float = Field(1.0, ge=0, le=60)
    geo_database: str = ""  # a MaxMind/DB-IP .mmdb file (GeoLite2-City ...); default: the bundled DB-IP Country Lite
    syslog_udp: list[str] = Field(default_factory=lambda: [":5514"])
    syslog_tcp: list[str] = Field(default_factory=lambda: [":5514"])
    netflow_udp: list[str] = Field(default_factory=lambda: [":2055"])
    # TCP syslog: connections one address may hold, and how long a connection may take to send its first
    # whole message (then the 600 s idle timeout applies) -- so one host cannot lock the other senders out
    syslog_max_per_address: int = Field(50, ge=1)
    syslog_first_message_seconds: float = Field(30, gt=0)
