"""The web application: listen address, sessions, TLS."""
