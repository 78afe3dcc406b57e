"""REST v1 request bodies: JSON parsing, validation against the official v1 OpenAPI
schema, and Keap's own checks on top (wire spec §7.1), ending in a store patch.

Every rejection is a BadRequest carrying Keap's `{"message": ...}` text.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from django.utils import timezone
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from integrations.sandbox.specs import SPECS_DIR

from . import places, seed
from .store import company_exists, iso

INVALID = "Input could not be converted to a valid request"  # §2.5, K11 #190/#249
SPEC_FILE = "keap-rest-v1.openapi.json"
_SPEC_URI = "urn:sandbox:keap-rest-v1"
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ].*)?")


class BadRequest(Exception):
    def __init__(self, message: str = INVALID):
        super().__init__(message)
        self.message = message


def spec_path() -> Path:
    """The official schema, vendored in integrations/sandbox/specs."""
    return SPECS_DIR / SPEC_FILE


def _relax_java_objects(node: Any) -> Any:
    """The spec is generated from Java: a field typed `Object` comes out as a bare
    `{"type": "object"}` (e.g. custom field `content`), yet takes any JSON value."""
    if isinstance(node, dict):
        bare = node.get("type") == "object" and not (
            {"properties", "additionalProperties", "$ref", "allOf"} & node.keys()
        )
        if bare:
            return {k: v for k, v in node.items() if k != "type"}
        return {k: _relax_java_objects(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_relax_java_objects(v) for v in node]
    return node


@cache
def _registry() -> Registry:
    spec = _relax_java_objects(json.loads(spec_path().read_text()))
    return Registry().with_resource(_SPEC_URI, Resource(contents=spec, specification=DRAFT4))


@cache
def _validator(path: str, method: str) -> jsonschema.Draft4Validator:
    pointer = path.replace("~", "~0").replace("/", "~1")
    ref = f"{_SPEC_URI}#/paths/{pointer}/{method}/requestBody/content/application~1json/schema"
    return jsonschema.Draft4Validator({"$ref": ref}, registry=_registry())


def _drop_nulls(value: Any) -> Any:
    # Keap's Jackson binding reads an explicit null as "not sent".
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


def parse_body(raw: bytes, *, path: str, method: str, required: bool = True) -> dict:
    """The JSON object of a request, valid against the operation's request schema."""
    if not raw.strip():
        if required:
            raise BadRequest()
        return {}
    try:
        body = json.loads(raw)
        # A lone surrogate escape ("\ud800") decodes but is no character: Keap's
        # UTF-8 store cannot hold it and the request is refused like any unreadable one.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError):
        raise BadRequest() from None
    if not isinstance(body, dict):
        raise BadRequest()
    body = _drop_nulls(body)
    if not _validator(path, method).is_valid(body):
        raise BadRequest()
    return body


# --- contact bodies -> store patches ---------------------------------------------------

_SCALARS = (
    "given_name middle_name family_name prefix suffix preferred_name spouse_name "
    "job_title website preferred_locale source_type opt_in_reason"
).split()
# PATCH's update_mask enum (§2.2; it still lists `notes`).
PATCHABLE = frozenset(
    "notes addresses anniversary birthday company contact_type custom_fields email_addresses "
    "family_name fax_numbers given_name job_title lead_source_id middle_name opt_in_reason "
    "origin owner_id phone_numbers preferred_locale preferred_name prefix social_accounts "
    "source_type spouse_name suffix time_zone website".split()
)
_SLOT_FIELDS = {
    "email_addresses": ("email",),
    "phone_numbers": ("number", "extension", "type", "number_e164"),
    "fax_numbers": ("number", "type"),
    "addresses": ("line1 line2 locality region postal_code zip_code zip_four country_code".split()),
}


def parse_day(value: Any) -> str:
    """YYYY-MM-DD from a date or a date-time string (birthday takes both, §2.3)."""
    match = _DATE.fullmatch(str(value).strip())
    if not match:
        raise BadRequest()
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        raise BadRequest() from None


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def custom_field_value(field: seed.CustomField, content: Any) -> Any:
    """Content converted to the field's type, or BadRequest (§7.1.6)."""
    if content is None or content == "":
        return None
    if isinstance(content, bool) or isinstance(content, dict | list):
        raise BadRequest()
    if field.field_type == "WholeNumber":
        if isinstance(content, int) or re.fullmatch(r"-?\d{1,18}", str(content)):
            return int(content)
        raise BadRequest()
    if field.field_type == "Date":
        return parse_day(content)
    return str(content)


def contact_patch(body: dict) -> dict:
    """A schema-valid CreateOrPatchContact / UpsertContact body -> a store patch."""
    patch: dict[str, Any] = {}
    for key in _SCALARS:
        if key in body:
            patch[key] = body[key] or None
    if "notes" in body:  # older SDKs' contact `notes`: the ContactNotes slot (§2.4)
        if not isinstance(body["notes"], str):
            raise BadRequest()
        patch["notes"] = body["notes"] or None
    if "contact_type" in body:
        if body["contact_type"] and body["contact_type"] not in seed.CONTACT_TYPES:
            raise BadRequest()
        patch["contact_type"] = body["contact_type"] or None
    if "time_zone" in body:
        if body["time_zone"] and body["time_zone"] not in _time_zones():
            raise BadRequest()
        patch["time_zone"] = body["time_zone"] or None
    for key, known in (("lead_source_id", seed.LEAD_SOURCES), ("owner_id", seed.USERS)):
        if key in body:
            if body[key] not in known:
                raise BadRequest()
            patch[key] = body[key]
    for key in ("birthday", "anniversary"):
        if key in body:
            patch[key] = parse_day(body[key]) if body[key] else None
    for key, names in _SLOT_FIELDS.items():
        if key in body:
            patch[key] = {item["field"]: _slot(key, item, names) for item in body[key]}
    if "custom_fields" in body:
        values = {}
        for item in body["custom_fields"]:
            field = seed.CUSTOM_FIELDS.get(item.get("id"))
            if field is None:
                raise BadRequest()
            values[str(field.id)] = custom_field_value(field, item.get("content"))
        patch["custom_fields"] = values
    if "social_accounts" in body:
        if any("type" not in item for item in body["social_accounts"]):
            raise BadRequest()
        patch["social_accounts"] = {i["type"]: i.get("name") for i in body["social_accounts"]}
    if "origin" in body:  # Keap stamps the origin with a date (FullContact `origin`)
        patch["origin"] = {"ip_address": body["origin"]["ip_address"], "date": iso(timezone.now())}
    if "id" in body.get("company", {}):
        if not company_exists(body["company"]["id"]):
            raise BadRequest()
        patch["company_id"] = body["company"]["id"]
    return patch


def _slot(key: str, item: dict, names: tuple[str, ...]) -> dict | None:
    slot = {name: item.get(name) or None for name in names}
    if key == "addresses":
        if slot["country_code"] and not places.is_alpha3(slot["country_code"]):
            raise BadRequest(f"{item['field']} Country Code is invalid")
        if slot["region"]:
            try:
                slot["region"] = places.region_full_name(
                    field=item["field"], region=slot["region"], country_code=slot["country_code"]
                )
            except places.RegionError as error:
                raise BadRequest(str(error)) from None
        if not slot["zip_code"]:
            slot["zip_four"] = None  # ignored without zip_code (§2.3)
    main = {"email_addresses": "email", "addresses": None}.get(key, "number")
    if main and not slot[main]:
        return None  # an empty email or number clears the slot
    return slot


def has_email_or_phone(patch: dict, existing: dict | None = None) -> bool:
    """Create needs at least one email or phone (§7.1.1)."""
    merged = {**(existing or {})}
    for key in ("email_addresses", "phone_numbers"):
        slots = {**merged.get(key, {}), **patch.get(key, {})}
        if any(slots.values()):
            return True
    return False


def primary_email(body: dict) -> str:
    """The email PUT matches on: EMAIL1, else the first one given."""
    emails = [e for e in body.get("email_addresses", []) if e.get("email")]
    emails.sort(key=lambda e: e["field"] != "EMAIL1")
    return emails[0]["email"] if emails else ""
