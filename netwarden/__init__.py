"""NetWarden: self-hosted network anomaly detection and response."""

__version__ = "0.1.0"
