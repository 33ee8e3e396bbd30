"""Reports and exports: CSV / JSON-lines exports of every list (:mod:`netwarden.report.export`), PDF reports
drawn from Jinja2 templates with server-side SVG charts (:mod:`netwarden.report.render`), one module per
report kind in :mod:`netwarden.report.kinds`, schedules run by ``netwarden serve`` and e-mailed
(:mod:`netwarden.report.schedule`). See docs/reports.md."""
