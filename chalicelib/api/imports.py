"""Bulk import: ``POST /imports/products`` and ``POST /imports/stock`` with a JSON list of rows
or a CSV file (``Content-Type: text/csv``, header line; ``price_EUR``-style price columns).
Every row is validated on its own with the models of single writes; good rows are kept, and
the answer lists the errors per row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.http import MAX_BODY_BYTES, BadRequest, Ctx, PayloadTooLarge, endpoint
from chalicelib.domain.access import Role
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound

if TYPE_CHECKING:
    from chalicelib.api.models.common import ImportReport

bp = Blueprint(__name__)

KINDS = ("products", "stock")
MAX_ROWS = 20_000


def import_rows(kind: str, rows: list[Any]) -> ImportReport:
    """Validate and store ``rows`` of ``kind`` (also used by ``python -m local.importer``)."""
    from chalicelib.api.models.common import ImportReport, ProductRowIn, StockRowIn, validate_rows

    if kind == "products":
        products, errors = validate_rows(ProductRowIn, rows)
        imported = wiring.importer().import_products([(p.sku, p.doc(p.sku)) for _, p in products])
    else:
        from chalicelib.services.importer import StockRow  # only an import needs the importer

        levels, errors = validate_rows(StockRowIn, rows)
        imported, stock_errors = wiring.importer().import_stock(
            [StockRow(number, **r.model_dump()) for number, r in levels]
        )
        errors.extend(stock_errors)
    errors.sort(key=lambda e: e.row)
    return ImportReport.model_validate(
        {
            "kind": kind,
            "received": len(rows),
            "imported": imported,
            "errors": [vars(e) for e in errors],
        }
    )


def _rows(ctx: Ctx) -> list[Any]:
    content_type = (ctx.header("content-type") or "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        body = ctx.request.raw_body or b""
        raw = body.encode() if isinstance(body, str) else body
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"the body is larger than {MAX_BODY_BYTES} bytes",
                fields=[FieldError("body", "too large")],
            )
        from chalicelib.services.importer import parse_csv

        try:
            rows: Any = parse_csv(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise BadRequest("the CSV is not UTF-8", fields=[FieldError("body", str(exc))]) from exc
    else:
        rows = ctx.json()
    if not isinstance(rows, list):
        raise InvalidInput(
            "the body must be a list of rows", fields=[FieldError("body", "not a list")]
        )
    if len(rows) > MAX_ROWS:
        raise InvalidInput(
            f"at most {MAX_ROWS} rows per import", fields=[FieldError("body", "too many rows")]
        )
    return rows


@endpoint(
    bp,
    "/imports/{kind}",
    method="POST",
    roles=[Role.ADMIN],
    response="common:ImportReport",
    content_types=["application/json", "text/csv"],
)
def post_import(ctx: Ctx, kind: str) -> ImportReport:
    """Import products or stock levels in bulk; the answer reports errors per row."""
    if kind not in KINDS:
        raise NotFound(f"no import of {kind!r}", fields=[FieldError("kind", "products or stock")])
    return import_rows(kind, _rows(ctx))
