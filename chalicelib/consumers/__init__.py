"""Transport entries: one module per queue or schedule; each parses its messages and calls a
use case."""
