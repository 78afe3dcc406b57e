"""Request validation against the official HighLevel contacts schema (shared/specs).

The document is OpenAPI 3.0, so two mechanical fixes make it usable as JSON Schema:
- `nullable: true` becomes a `null` alternative in `type` (3.0's spelling of it);
- a `type` its own `example` contradicts is widened to the example's type. This is the
  spec's erratum: `dateOfBirth` is declared `object` yet documented as "YYYY-MM-DD"
  strings, and the numeric/monetary custom field `field_value` is declared `object`
  with examples 100 and 100.5 (wire spec §6.3 says a number).
Nothing else is changed. Violations become NestJS class-validator style messages, the
`message` array of a 422 (§6.5, §7.3.7).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from integrations.sandbox.specs import SPECS_DIR

CONTACTS_SPEC = "highlevel-contacts.openapi.json"
_JSON_TYPES = {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}
_TYPE_WORDS = {
    "string": "must be a string",
    "boolean": "must be a boolean value",
    "number": "must be a number conforming to the specified constraints",
    "array": "must be an array",
    "object": "must be an object",
}


def specs_dir() -> Path:
    return SPECS_DIR


@cache
def _components() -> dict[str, Any]:
    document = json.loads((specs_dir() / CONTACTS_SPEC).read_text())
    return _to_json_schema(copy.deepcopy(document["components"]))


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _to_json_schema(value) for key, value in node.items()}
    declared = node.get("type")
    example = node.get("example")
    if declared == "object" and example is not None and not isinstance(example, dict):
        node["type"] = _JSON_TYPES.get(type(example), declared)
    if node.pop("nullable", False) and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    return node


@cache
def validator(dto: str) -> Draft202012Validator:
    """A validator for one named request schema, e.g. "CreateContactDto"."""
    schema = {"$ref": f"#/components/schemas/{dto}", "components": _components()}
    return Draft202012Validator(schema)


def properties(dto: str) -> frozenset[str]:
    return frozenset(_components()["schemas"][dto].get("properties", {}))


def violations(dto: str, body: Any) -> list[str]:
    """Constraint messages for `body`; empty when it is valid.

    Beyond the schema, unknown top-level properties are refused the way HighLevel's
    NestJS whitelist does ("property X should not exist"): the schema does not say so,
    but this is what catches a client sending fields the API does not have.
    """
    if not isinstance(body, dict):
        return ["request body must be an object"]
    messages = [f"property {key} should not exist" for key in body if key not in properties(dto)]
    for error in sorted(validator(dto).iter_errors(body), key=lambda e: list(e.path)):
        messages.extend(_messages(error))
    return list(dict.fromkeys(messages))


def _messages(error: ValidationError) -> list[str]:
    path = ".".join(str(part) for part in error.path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        name = f"{path}.{missing}" if path else missing
        return [f"{name} should not be empty", f"{name} must be a string"]
    if error.validator == "type":
        wanted = error.validator_value
        wanted = next(t for t in wanted if t != "null") if isinstance(wanted, list) else wanted
        parent = ".".join(str(part) for part in list(error.path)[:-1])
        if parent and isinstance(error.path[-1], int):
            return [f"each value in {parent} {_TYPE_WORDS.get(wanted, 'is invalid')}"]
        return [f"{path} {_TYPE_WORDS.get(wanted, 'is invalid')}"]
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return [f"{path} must be one of the following values: {allowed}"]
    if error.validator == "anyOf":
        # customFields items: every branch needs a string `id`.
        item = error.instance
        if not isinstance(item, dict):
            return [f"each value in nested property {path.rsplit('.', 1)[0]} must be an object"]
        if not isinstance(item.get("id"), str):
            return [f"{path}.id must be a string"]
        return [f"{path}.field_value has an unsupported type"]
    return [f"{path or 'body'} is invalid"]
