"""The HTTP edge's pydantic models (requests, responses), shared with the OpenAPI document."""
