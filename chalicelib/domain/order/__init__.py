"""The order: its model and state machine (``model``), shipment progress (``progress``)
and what it counts in reports (``metrics``)."""
