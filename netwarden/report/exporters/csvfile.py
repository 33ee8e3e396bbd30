"""CSV (RFC 4180), spreadsheet-safe: see netwarden.report.export for the cell escapes."""

from __future__ import annotations

from netwarden.report.export import csv_stream, driver_csv, read_csv
from netwarden.report.exporters import EXPORTERS, Exporter


@EXPORTERS.register
class Csv(Exporter):
    name = "csv"
    media_type = "text/csv; charset=utf-8"
    accepts = ("text/csv",)
    rows = staticmethod(csv_stream)
    driver_rows = staticmethod(driver_csv)
    read = staticmethod(read_csv)
