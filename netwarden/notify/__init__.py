"""Notifications: SMTP and webhooks, severity floor, digests."""
