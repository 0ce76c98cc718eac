"""Webhook subscriptions (admin): ``PUT``/``GET /webhook-subscriptions/{subscription_id}``,
``GET .../deliveries`` (paged) and ``POST .../deliveries/{delivery_id}/retry``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint, Response

from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.domain.access import Role
from chalicelib.wiring.webhooks import webhooks

if TYPE_CHECKING:
    from chalicelib.api.models.webhooks import DeliveryList, RetryOut, SubscriptionOut

bp = Blueprint(__name__)

ADMIN = [Role.ADMIN]
MAX_PAGE = 100
NO_STORE = {"Cache-Control": "no-store"}


@endpoint(
    bp,
    "/webhook-subscriptions/{subscription_id}",
    method="PUT",
    roles=ADMIN,
    request="webhooks:SubscriptionIn",
    response="webhooks:SubscriptionOut",
)
def put_subscription(ctx: Ctx, subscription_id: str) -> Response:
    """Create (201, with the secret, once) or change (200) a subscription. The URL must be
    https and resolve to public addresses only; the secret is generated when left out."""
    from chalicelib.api.models.webhooks import SubscriptionIn, subscription_out

    req = ctx.body(SubscriptionIn)
    result = webhooks().put(subscription_id, req.url, [e.value for e in req.events], req.secret)
    out = subscription_out(result.subscription, result.secret)
    return json_response(out, 201 if result.created else 200, headers=NO_STORE)


@endpoint(
    bp, "/webhook-subscriptions/{subscription_id}", roles=ADMIN, response="webhooks:SubscriptionOut"
)
def get_subscription(ctx: Ctx, subscription_id: str) -> SubscriptionOut:
    """A subscription (never its secret)."""
    from chalicelib.api.models.webhooks import subscription_out

    return subscription_out(webhooks().get(subscription_id))


@endpoint(
    bp,
    "/webhook-subscriptions/{subscription_id}/deliveries",
    roles=ADMIN,
    response="webhooks:DeliveryList",
)
def list_deliveries(ctx: Ctx, subscription_id: str) -> DeliveryList:
    """Deliveries, newest first: status, attempts with status codes, next retry; ``limit``
    (at most 100) and ``cursor``."""
    from chalicelib.api.models.webhooks import DeliveryList, delivery_out

    limit = ctx.whole_number("limit", 20, 1, MAX_PAGE)
    page = webhooks().deliveries(subscription_id, limit, ctx.query("cursor"))
    return DeliveryList(deliveries=[delivery_out(d) for d in page.items], cursor=page.cursor)


@endpoint(
    bp,
    "/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
    method="POST",
    roles=ADMIN,
    response="webhooks:RetryOut",
    status=202,
)
def retry_delivery(ctx: Ctx, subscription_id: str, delivery_id: str) -> RetryOut:
    """Queue one more attempt of a delivery now (whatever its status)."""
    from chalicelib.api.models.webhooks import RetryOut

    found = webhooks().retry(subscription_id, delivery_id)
    return RetryOut(delivery_id=found.delivery_id)
