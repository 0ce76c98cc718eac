"""The operations dashboard: ``GET /dashboard`` (a static page, public), its scripts and style
under ``/dashboard/assets/{name}``, and ``GET /dashboard/data`` (admin, service: the figures).

The page carries no data: it asks for an API key once (kept in the browser's localStorage) and
calls the JSON API with it. Everything it needs ships with the app (no CDN, works offline);
the charts are SVG drawn by a small hand-written script (``charts.js``, beside ``app.js``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint
from chalicelib.domain.access import Role
from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import FieldError, NotFound

bp = Blueprint(__name__)
STATIC = Path(__file__).resolve().parents[1] / "dashboard"
ASSETS = {
    "charts.js": "application/javascript; charset=utf-8",  # the SVG charts, loaded first
    "app.js": "application/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
# Only this app's own files: a script injected into the page could not load or send anything.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
REJECTED_SHOWN = 20


@cache
def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@endpoint(bp, "/dashboard", roles=None)
def dashboard_page(ctx: Ctx) -> Response:
    """The operations dashboard (HTML; it asks for an API key and reads the API with it)."""
    return Response(
        body=_read("index.html"),
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


@endpoint(bp, "/dashboard/assets/{name}", roles=None)
def dashboard_asset(ctx: Ctx, name: str) -> Response:
    """The dashboard's scripts and style sheet."""
    if name not in ASSETS:
        raise NotFound(f"no asset {name}", fields=[FieldError("name", "unknown asset")])
    return Response(
        body=_read(name),
        status_code=200,
        headers={
            "Content-Type": ASSETS[name],
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


@endpoint(
    bp, "/dashboard/data", roles=[Role.ADMIN, Role.SERVICE], response="dashboard:DashboardData"
)
def dashboard_data(ctx: Ctx) -> dict[str, Any]:
    """KPIs, chart series, the low-stock list, DLQ depths, the last consumer failures and the
    orders connectors could not capture."""
    return {
        **wiring.reports().dashboard(),
        "operations": wiring.operations().status(),
        "rejected_orders": _rejected_orders(),
    }


def _rejected_orders() -> list[dict[str, Any]]:
    """The newest rejected orders of every channel with a connector (one query per channel)."""
    from chalicelib.wiring.connectors import connectors

    service = connectors()
    rows = [
        {key: doc.get(key) for key in ROW}
        for config in wiring.catalog_service().docs(Kind.CONNECTOR)
        for doc in service.rejected_orders(config["channel"])
    ]
    rows.sort(key=lambda row: row["last_attempt_at"] or "", reverse=True)
    return rows[:REJECTED_SHOWN]


ROW = ("channel", "platform", "platform_order_id", "reason", "attempts", "last_attempt_at")
