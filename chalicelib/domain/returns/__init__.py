"""Returns: the RMA and its policy (``policy``), and where a customer can send units back
(``options``)."""
