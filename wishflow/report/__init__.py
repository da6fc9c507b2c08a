"""The operations report: figures from the warehouse, drawn as inline SVG in one HTML file.

>>> from wishflow.report import write_report
>>> write_report("sqlite:///.wishflow/warehouse.db", "report.html")  # doctest: +SKIP
"""

from wishflow.report.data import ReportData, collect
from wishflow.report.html import ReportResult, charts, render, write_report

__all__ = ["ReportData", "ReportResult", "charts", "collect", "render", "write_report"]
