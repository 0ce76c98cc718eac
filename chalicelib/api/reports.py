"""Reports (admin, customer service): ``GET /reports/{name}?from&to&format&channel&currency``.

JSON: ``{report, from, to, filters, columns, rows, totals}``; ``format=csv``: the rows as CSV
(a header line with ``columns``, then one line per row). Names: see ``ReportName``.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint
from chalicelib.domain.access import Role
from chalicelib.domain.errors import FieldError, InvalidInput

if TYPE_CHECKING:
    from chalicelib.domain.reports import Report
    from chalicelib.services.reports import Query

bp = Blueprint(__name__)
READERS = [Role.ADMIN, Role.SERVICE]


def report_view(name: str, report: Report, query: Query, as_of: str | None) -> dict[str, Any]:
    from chalicelib.domain.reports import CURRENT_STATE

    return {
        "report": name,
        "from": query.first.isoformat(),
        "to": query.last.isoformat(),
        **({"as_of": as_of} if name in CURRENT_STATE else {}),
        "filters": {"channel": query.channel, "currency": query.currency},
        "columns": report.columns,
        "rows": report.rows,
        "totals": report.totals,
    }


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    from chalicelib.services.exports import safe_cell  # the reports code loads on first use

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else safe_cell(v) for k, v in row.items()})
    return out.getvalue()


def output_format(ctx: Ctx) -> str:
    fmt = (ctx.query("format") or "json").lower()
    if fmt not in ("json", "csv"):
        raise InvalidInput("format must be json or csv", fields=[FieldError("format", "json|csv")])
    return fmt


@endpoint(bp, "/reports/{name}", roles=READERS, response="reports:ReportView")
def get_report(ctx: Ctx, name: str) -> Any:
    """A report over a day range (``from``, ``to``; default the last 30 days), optionally for
    one ``channel`` and ``currency``; ``format=json`` (default) or ``csv``."""
    from chalicelib.domain.reports import CURRENT_STATE
    from chalicelib.services.reports import parse_query

    fmt = output_format(ctx)
    service = wiring.reports()
    query = parse_query(dict(ctx.request.query_params or {}), today=service.today())
    report = service.run(name, query)
    if fmt == "csv":
        span = "" if name in CURRENT_STATE else f"_{query.first}_{query.last}"
        return Response(
            body=csv_text(report.columns, report.rows),
            status_code=200,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}{span}.csv"',
            },
        )
    return report_view(name, report, query, service.as_of())
