"""The sandboxes validate against vendored copies of the official schemas. Their
SHA-256 sums are recorded in integrations/sandbox/specs/SHA256SUMS: a copy that
drifts from its recorded sum fails in any checkout, and where the project's
shared/specs is beside the repository (as in CI) the shared documents must carry the
same sums, so an upstream update cannot go unnoticed either."""

import hashlib

import pytest

from integrations.sandbox.specs import SPECS_DIR
from tests.openapi import SHARED

VENDORED = sorted(p.name for p in SPECS_DIR.glob("*.json"))
RECORDED = dict(
    reversed(line.split(maxsplit=1))
    for line in (SPECS_DIR / "SHA256SUMS").read_text().splitlines()
    if line.strip()
)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_sandboxes_ship_the_schemas_they_validate_against_with_their_sums():
    assert VENDORED == [
        "highlevel-common-schemas.json",
        "highlevel-contacts.openapi.json",
        "keap-rest-v1.openapi.json",
    ]
    assert sorted(RECORDED) == VENDORED


@pytest.mark.parametrize("name", VENDORED)
def test_a_vendored_schema_is_the_recorded_one(name):
    assert sha256(SPECS_DIR / name) == RECORDED[name]


@pytest.mark.parametrize("name", VENDORED)
def test_the_shared_schema_when_present_is_the_recorded_one(name):
    if not SHARED.is_dir():
        pytest.skip("shared/specs is not beside the repository; the recorded sums still hold")
    assert sha256(SHARED / name) == RECORDED[name]
