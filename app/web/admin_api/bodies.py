"""Request bodies and query parameters, checked against the same schemas the OpenAPI document publishes."""

from __future__ import annotations

import functools
import re
from typing import Any

from flask import request

from app.errors import ValidationError
from app.services.pagination import DEFAULT_LIMIT
from app.web.admin_api.schemas import QUERY_PARAMETERS, SCHEMAS, Schema

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "boolean": (bool,), "array": (list,), "object": (dict,), "null": (type(None),),
}
INTEGER = re.compile(r"-?[0-9]{1,18}")


def json_body(schema_name: str) -> dict[str, Any]:
    """The JSON object in the body, valid against the named schema; a ValidationError names the field otherwise."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object (Content-Type: application/json)")
    check(body, SCHEMAS[schema_name], None)
    return body


def check(value: Any, schema: Schema, field: str | None) -> None:
    """The subset of JSON Schema our schemas use."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    # JSON has no separate booleans-as-integers: True is not an integer here.
    if types and not any(isinstance(value, JSON_TYPES[t]) and not (t == "integer" and isinstance(value, bool))
                         for t in types):
        raise ValidationError(f"{field or 'the body'} must be {' or '.join(types)}", field=field)
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get("minLength", 0):
            raise ValidationError(f"{field} has the wrong length", field=field)
        if "pattern" in schema and not ecma_pattern(schema["pattern"]).search(value):
            raise ValidationError(f"{field} is malformed", field=field)
        if schema.get("format") == "email" and "@" not in value:
            raise ValidationError(f"{field} is not an email address", field=field)
    if "enum" in schema and value not in schema["enum"]:
        raise ValidationError(f"{field} must be one of {', '.join(map(str, schema['enum']))}", field=field)
    if (isinstance(value, int) and not isinstance(value, bool)
            and not schema.get("minimum", value) <= value <= schema.get("maximum", value)):
        raise ValidationError(f"{field} is out of range", field=field)
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            raise ValidationError(f"{field} has too many items", field=field)
        for item in value:
            check(item, schema.get("items", {}), field)
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                raise ValidationError(f"{name} is required", field=name)
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                check(item, properties[name], name)
            elif isinstance(schema.get("additionalProperties"), dict):  # a map: any name, values of one schema
                check(name, schema.get("propertyNames", {}), field)
                check(item, schema["additionalProperties"], field)
            else:
                raise ValidationError(f"{name} is not a known field", field=name[:64])
        if len(value) > schema.get("maxProperties", len(value)):
            raise ValidationError(f"{field} has too many members", field=field)


@functools.cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """JSON Schema patterns are ECMA-262, where a final `$` does not match before a trailing newline."""
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def query_string(name: str) -> str | None:
    value = request.args.get(name)
    if value is not None:
        check(value, QUERY_PARAMETERS[name], name)
    return value


def query_integer(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not INTEGER.fullmatch(raw):
        raise ValidationError(f"{name} must be an integer", field=name)
    value = int(raw)
    check(value, QUERY_PARAMETERS[name], name)
    return value


def query_limit() -> int:
    limit = query_integer("limit")
    return DEFAULT_LIMIT if limit is None else limit
