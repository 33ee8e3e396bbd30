"""The web application: server-rendered pages, the REST API under ``/api/v1``, live updates over WebSocket.

``create_app(settings, db, runtime=None)`` in :mod:`netwarden.web.app` builds it and
:class:`netwarden.web.http.HttpServer` serves it. The web app only serves HTTP: ``netwarden serve`` is assembled
in :mod:`netwarden.serve` (the database, the pipeline, the live collectors, the reports, and this app); users
and sessions are in :mod:`netwarden.accounts`, queries in :mod:`netwarden.store`.

How to add a page
-----------------
Add one module to ``netwarden/web/pages/`` (nothing else to edit; every module with a ``router`` is
included, modules starting with ``_`` are not)::

    from fastapi import APIRouter, Depends, Request
    from fastapi.responses import HTMLResponse

    from netwarden.web.auth import Principal, require
    from netwarden.web.render import NavEntry, render

    router = APIRouter(include_in_schema=False)
    NAV = NavEntry("Map", "/map", order=40, role="viewer")       # or a list; omit for no menu link

    @router.get("/map", response_class=HTMLResponse)
    def map_page(request: Request, who: Principal = Depends(require("viewer"))):
        return render(request, "map.html", {"points": ...})

- Menu order so far: Dashboard 10, Events 20, Analysis 25, Map 27, Visitors 28, Alerts 30, Incidents 31,
  Offenders 33, Blocked 35, Check 35 (analyst), Models 45, Settings 90 (admin). Pick numbers in between.
- Addresses in templates: ``{{ address|host }}`` links to the host page; times: ``{{ value|when }}`` (the
  one format, in the site's zone or UTC as the browser chose); in scripts ``hostLink()`` and ``when()`` of nw.js.
- Templates go in ``netwarden/web/templates/`` (``{% extends "base.html" %}``, ``{% block content %}``,
  ``{% block scripts %}``). Autoescape is on: never ``|safe`` anything that came from a log.
- Scripts: ``netwarden/web/static/js/<page>.js`` loaded with ``<script type="module" src="/static/js/...">``
  in ``{% block scripts %}``. The CSP is ``script-src 'self'``: no inline ``<script>``, no ``on…=`` attributes,
  no ``eval``. Put data for a script in ``data-*`` attributes or fetch it from the API. Show log-derived
  values with ``textContent`` / ``createElement`` — never ``innerHTML`` with data.
  ``/static/js/nw.js`` exports helpers: ``api(path, options)`` (JSON fetch with the CSRF header),
  ``el(tag, attrs, ...children)`` (safe DOM building), ``live(topics, callback)`` (the WebSocket feed with
  a polling fallback), ``severityClass(sev)``.
- Front-end libraries: add them to ``package.json`` (``npm install --save <pkg>`` updates the lockfile);
  each dependency is served from ``node_modules/<pkg>/`` at ``/static/vendor/<pkg>/...``, e.g.
  ``/static/vendor/chart.js/dist/chart.umd.js``. Never copy library files into the repository.
- Forms that change something: ``method="post"`` with ``{{ csrf_field() }}`` inside; ``require()`` checks it.

How to add an API route
-----------------------
Add a module to ``netwarden/web/api/`` with ``router = APIRouter(tags=["..."])``; its paths are relative to
``/api/v1`` (``@router.get("/blocks")`` is ``GET /api/v1/blocks``) and appear in ``/api/v1/openapi.json``.

- Protect every route: ``who: Principal = Depends(require("viewer" | "analyst" | "admin"))``. Roles are
  ordered (viewer < analyst < admin). Cookie or ``Authorization: Bearer`` token; writes through the cookie
  need the ``X-CSRF-Token`` header (``api()`` in nw.js sends it).
- Bad input is a 4xx with ``{"detail": "message"}``: validate with FastAPI types (``Query(ge=…)``), raise
  ``HTTPException(400, "what is wrong")`` for the rest. A 500 is a bug.
- The database: ``Depends(get_db)`` (:mod:`netwarden.web.deps`), a :class:`~netwarden.store.database.Database`;
  use SQLAlchemy expressions only (bound parameters), never SQL built from strings.
- Also in :mod:`netwarden.web.deps`: ``RowId`` (a path id, bounded so a huge number is a 422, not a driver
  overflow), ``checked_time(value, name)`` (aware UTC, years 1970-2199, else a 400), ``fast_json(data)``
  (orjson answer for big lists: FastAPI's own encoder costs more than the query).
- A page with a GET filter form: add ``_: None = Depends(without_empty_fields)`` (netwarden.web.render) as
  the FIRST parameter; it redirects ``?port=&kind=x`` to ``?kind=x`` before typed parameters see ``""``.
- The running server: ``Depends(get_runtime)`` → :class:`netwarden.web.runtime.Runtime`: ``hub`` (publish
  ``hub.publish(topic, data)`` from any thread; browsers get it live), ``engine`` (the detection engine or
  None), ``pipeline``, ``rate.rate()`` (events/s), ``listeners``, and the web app's live objects as typed
  fields (``file_settings`` and ``listen_on`` given by ``serve``, ``responder``, ``feeds``, the job boards).

Live updates
------------
``/api/v1/live`` (WebSocket) and ``/api/v1/live/poll?after=SEQ`` (long polling) deliver
``{"seq", "topic", "data"}`` messages; topics: ``alert`` (new/updated alerts), ``block`` (a block made, ended or failed; ``what`` says which), ``events`` (a sample of each
stored batch), ``stats``; other packages may publish their own topics.
"""
