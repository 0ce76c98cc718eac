"""Low-stock alerts: recipient groups and what is low (``rules``), and the digest mail
(``digest``)."""
