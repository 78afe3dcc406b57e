"""Validate request bodies against the CRMs' official OpenAPI documents (shared/specs)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

import jsonschema

from integrations.sandbox.specs import SPECS_DIR as VENDORED

# The project's shared/specs beside the repository (as in CI), else the vendored copies.
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "specs"
SPECS = SHARED if SHARED.is_dir() else VENDORED


@lru_cache
def load(name: str) -> dict:
    return json.loads((SPECS / name).read_text())


def _loosen_java_object(schema: dict) -> dict:
    """Keap's v1 spec types CustomFieldValue.content as "object" because the server
    declares it as java.lang.Object; the API takes any JSON value (crm-wire-spec §2.3,
    "content": "any JSON value"). That one node is widened; nothing else is touched."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("title") == "CustomFieldValue":
                node["properties"]["content"] = {}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def request_validator(spec: str, path: str, method: str) -> jsonschema.Validator:
    doc = load(spec)
    operation = doc["paths"][path][method.lower()]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    root = {**_loosen_java_object(schema), "components": doc.get("components", {})}
    cls = jsonschema.validators.validator_for(
        {"$schema": "http://json-schema.org/draft-04/schema#"}
    )
    return cls(root)


def assert_valid(spec: str, path: str, method: str, body: dict) -> None:
    errors = sorted(request_validator(spec, path, method).iter_errors(body), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
