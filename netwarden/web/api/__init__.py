"""REST API routers, included under /api/v1 (see netwarden.web)."""
