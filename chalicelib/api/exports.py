"""CSV exports (admin): ``GET /exports/{orders|stock|returns}?from&to&channel``.

Small files come back as ``text/csv``; one larger than the inline limit
(``EXPORT_INLINE_MAX_BYTES``, below Lambda's 6 MB) is stored in the exports bucket and the
answer is JSON with a pre-signed link (valid one hour).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.domain.access import Role

bp = Blueprint(__name__)


@endpoint(bp, "/exports/{kind}", roles=[Role.ADMIN], response="exports:ExportLink")
def export(ctx: Ctx, kind: str) -> Any:
    """Every order (placed in ``from``..``to``), stock item (now) or return (requested in the
    range) as CSV; ``channel`` narrows orders and returns. Large files: a pre-signed link."""
    from chalicelib.services.reports import parse_query

    service = wiring.reports()
    query = parse_query(dict(ctx.request.query_params or {}), today=service.today())
    service.check_channel(query)
    result = wiring.exports().export(kind, query)
    if result.body is not None:
        return Response(
            body=result.body,
            status_code=200,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{result.filename}"',
                "X-Export-Rows": str(result.rows),
            },
        )
    return json_response(
        {
            "export": result.kind,
            "filename": result.filename,
            "rows": result.rows,
            "bytes": result.size,
            "url": result.url,
            "expires_at": result.expires_at,
        }
    )
