"""Returns: the RMA and its stored form (``model``), the policy and the RMA's state machine
(``policy``), and where a customer can send units back (``options``)."""
