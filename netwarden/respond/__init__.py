"""Blocking: mode, thresholds, never-block list, backends, expiry."""
