"""Sourcing: which locations send which units of a cart, how, by when, at what cost.

:func:`plan` is the entry point (``planner``); ``context`` prepares a request's sites
(``site``, from ``stock``) and routes, ``solver``, ``ranking``, ``kinds``, ``rebalance`` and
``costing`` search and price splits, ``collect`` plans click & collect, ``terms`` holds the rule
terms both cost paths share, ``model`` the values.
"""

from chalicelib.domain.sourcing.model import (
    CostBreakdown,
    OptionKind,
    Plan,
    Shipment,
    SourcingRequest,
    SourcingResult,
    Unsourceable,
)
from chalicelib.domain.sourcing.planner import nearest_plan, plan

__all__ = [
    "CostBreakdown",
    "OptionKind",
    "Plan",
    "Shipment",
    "SourcingRequest",
    "SourcingResult",
    "Unsourceable",
    "nearest_plan",
    "plan",
]
