"""HTML pages; every module with a ``router`` is included, its ``NAV`` joins the menu (see netwarden.web)."""
