"""The sandboxes validate against vendored copies of the official schemas; they must be
the project's shared/specs, byte for byte."""

import pytest

from integrations.sandbox.specs import SPECS_DIR
from tests.openapi import SHARED

VENDORED = sorted(p.name for p in SPECS_DIR.glob("*.json"))


def test_the_sandboxes_ship_the_schemas_they_validate_against():
    assert VENDORED == [
        "highlevel-common-schemas.json",
        "highlevel-contacts.openapi.json",
        "keap-rest-v1.openapi.json",
    ]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/specs is not beside the repository")
@pytest.mark.parametrize("name", VENDORED)
def test_a_vendored_schema_is_the_shared_one(name):
    assert (SPECS_DIR / name).read_bytes() == (SHARED / name).read_bytes()
