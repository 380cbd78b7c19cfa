"""The report of a trace: the offline HTML hop graph and exports for other tools.

:func:`render_report` writes ``report.html``; :func:`write_exports` writes ``graph.json``
(node-link), ``graph.graphml``, ``graph.gexf`` and ``stix.json`` (STIX 2.1) beside it.
"""

from tracer.report.exports import write_exports
from tracer.report.html import render_report

__all__ = ["render_report", "write_exports"]
