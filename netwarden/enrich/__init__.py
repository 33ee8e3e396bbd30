"""Enrichment: what NetWarden knows about addresses beyond the log line (our networks, intel, geo)."""
