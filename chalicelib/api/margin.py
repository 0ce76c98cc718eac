"""The margin report (admin, service): ``GET /reports/margin?from&to&channel&currency&format``.

Per day, channel and currency: the orders placed whose margin is known, their revenue, cost of
goods, cost to serve and margin (``domain.margin``); ``unknown_orders`` counts those without a
cost price in the order's currency. Same query and answer as ``GET /reports/{name}``.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint
from chalicelib.domain.access import Role

bp = Blueprint(__name__)
NAME = "margin"


@endpoint(bp, "/reports/margin", roles=[Role.ADMIN, Role.SERVICE], response="reports:ReportView")
def get_margin_report(ctx: Ctx) -> Any:
    """Margin per channel and day (``from``, ``to``: default the last 30 days)."""
    from chalicelib.api.reports import csv_text, output_format
    from chalicelib.domain import margin
    from chalicelib.domain.reports import days_between
    from chalicelib.services.reports import parse_query

    fmt = output_format(ctx)
    service = wiring.reports()
    query = parse_query(dict(ctx.request.query_params or {}), today=service.today())
    rows, totals = margin.report(service.series(query), days_between(query.first, query.last))
    columns = ["date", "channel", "currency", *margin.COLUMNS]
    if fmt == "csv":
        return Response(
            body=csv_text(columns, rows),
            status_code=200,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": (
                    f'attachment; filename="{NAME}_{query.first}_{query.last}.csv"'
                ),
            },
        )
    view: dict[str, Any] = {
        "report": NAME,
        "from": query.first.isoformat(),
        "to": query.last.isoformat(),
        "filters": {"channel": query.channel, "currency": query.currency},
        "columns": columns,
        "rows": rows,
        "totals": totals,
    }
    return view
