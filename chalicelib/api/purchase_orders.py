"""Purchase orders: ``PUT``/``GET /purchase-orders/{po_id}``, ``GET /purchase-orders`` (per
destination, paged) and ``POST /purchase-orders/{po_id}/cancel``. Admin keys write; staff read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.domain.access import Role
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.supply import PoStatus
from chalicelib.services.purchase_orders import PoCommand

if TYPE_CHECKING:
    from chalicelib.api.models.purchase_orders import PurchaseOrderList, PurchaseOrderOut

bp = Blueprint(__name__)

ADMIN = [Role.ADMIN]
STAFF = [Role.ADMIN, Role.SERVICE]
MAX_PAGE = 100


@endpoint(
    bp,
    "/purchase-orders/{po_id}",
    method="PUT",
    roles=ADMIN,
    request="purchase_orders:PurchaseOrderIn",
    response="purchase_orders:PurchaseOrderOut",
)
def put_purchase_order(ctx: Ctx, po_id: str) -> Response:
    """Create a purchase order, or change its date, supplier or quantities (201 / 200).
    A quantity below what a line has received is a 409; ``version`` guards a stale edit."""
    from chalicelib.api.models.purchase_orders import PurchaseOrderIn, po_view

    req = ctx.body(PurchaseOrderIn)
    po, created = wiring.purchase_orders().put(
        po_id,
        PoCommand(
            supplier=req.supplier,
            location_id=req.location_id,
            expected_date=req.expected_date.isoformat(),
            lines=req.line_tuples(),
            version=req.version,
        ),
    )
    return json_response(po_view(po), 201 if created else 200)


@endpoint(bp, "/purchase-orders/{po_id}", roles=STAFF, response="purchase_orders:PurchaseOrderOut")
def get_purchase_order(ctx: Ctx, po_id: str) -> PurchaseOrderOut:
    """One purchase order with its lines (ordered, received, in transit, open)."""
    from chalicelib.api.models.purchase_orders import po_view

    return po_view(wiring.purchase_orders().get(po_id))


@endpoint(bp, "/purchase-orders", roles=STAFF, response="purchase_orders:PurchaseOrderList")
def list_purchase_orders(ctx: Ctx) -> PurchaseOrderList:
    """The purchase orders of ``location_id`` (required), by status and expected date;
    ``status``, ``limit`` (at most 100) and ``cursor``."""
    from chalicelib.api.models.common import check_path_id
    from chalicelib.api.models.purchase_orders import PurchaseOrderList, po_out

    location_id = ctx.query("location_id")
    if not location_id:
        raise InvalidInput("location_id is required", fields=[FieldError("location_id", "missing")])
    check_path_id("location_id", location_id)
    status = ctx.query("status")
    if status is not None and status not in {s.value for s in PoStatus}:
        raise InvalidInput(
            "unknown status",
            fields=[FieldError("status", f"one of {sorted(s.value for s in PoStatus)}")],
        )
    limit = ctx.whole_number("limit", 50, 1, MAX_PAGE)
    page = wiring.purchase_orders().list(location_id, status, limit, ctx.query("cursor"))
    return PurchaseOrderList(purchase_orders=[po_out(d) for d in page.items], cursor=page.cursor)


@endpoint(
    bp,
    "/purchase-orders/{po_id}/cancel",
    method="POST",
    roles=ADMIN,
    response="purchase_orders:PurchaseOrderOut",
)
def cancel_purchase_order(ctx: Ctx, po_id: str) -> PurchaseOrderOut:
    """Cancel what is still open of a purchase order; idempotent. Its promises move."""
    from chalicelib.api.models.purchase_orders import po_view

    return po_view(wiring.purchase_orders().cancel(po_id))
