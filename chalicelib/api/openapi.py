"""The OpenAPI 3.1 document, generated from the registered endpoints and their pydantic models.

Endpoints name their models as ``"<module>:<name>"`` of ``chalicelib.api.models`` (a class or a
TypeAdapter there), so that no model is built at ``import app``: the document imports them on
its first request, each view on its first call.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from chalicelib.api.http import ID_PATTERN, OPERATIONS, Operation

# What ``check_id`` accepts in a path: the positive phases of a fuzzer reach the view.
ID_SCHEMA = {"type": "string", "pattern": ID_PATTERN, "maxLength": 64}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "reason": {"type": "string"}},
                    },
                },
            },
            "required": ["code", "message"],
        }
    },
}


def resolve(model: Any) -> Any:
    """The model an endpoint names: ``"orders:OrderView"`` is ``OrderView`` of
    ``chalicelib.api.models.orders``; anything else is itself."""
    if not isinstance(model, str):
        return model
    module, _, name = model.partition(":")
    return getattr(importlib.import_module(f"chalicelib.api.models.{module}"), name)


def _schema(model: Any, defs: dict[str, Any]) -> dict[str, Any]:
    model = resolve(model)
    if model is None:
        return {"type": "object"}
    adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    if isinstance(model, type) and issubclass(model, BaseModel):
        defs[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}
    return schema


def _operation(op: Operation, defs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": op.tags,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": dict(ID_SCHEMA)}
            for name in re.findall(r"{(\w+)}", op.path)
        ],
        "responses": {
            str(op.status): {
                "description": "success",
                "content": {"application/json": {"schema": _schema(op.response, defs)}},
            },
            "default": {
                "description": "an error naming the field and the reason",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if op.roles:
        out["security"] = [{"bearer": []}]
        out["description"] = (
            "Roles: " + ", ".join(sorted(r.value for r in op.roles)) + " (and admin)."
        )
    if op.request is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(op.request, defs)}},
        }
    return out


def document(title: str = "Dirigent API", version: str = "1") -> dict[str, Any]:
    defs: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for op in sorted(OPERATIONS, key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, defs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
