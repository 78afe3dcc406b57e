"""Lead fields -> a CRM-neutral ContactData, for callers that have (source, target)
pairs rather than a step's configuration (tests, scripts). A thin front for
integrations.mapping.step_map, which does the work.

The 17 fields LeadConduit maps automatically (seeds/000) are read under their
LeadConduit names; the pairs then add or override fields ("custom:<id>" for CRM
custom fields, a standard field or ContactData attribute, or any CRM-native name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from integrations.crm.base import ContactData

from .context import SystemFields, lead_context
from .step_config import EXTRA_STANDARD, STANDARD_FIELDS, mapping_config, step_config
from .step_map import step_map
from .templates import is_template

__all__ = ["EXTRA_STANDARD", "STANDARD_FIELDS", "MappingSkip", "contact_from_lead"]


class MappingSkip(Exception):
    """The lead should not be sent by this step. `reason` is a fixed phrase."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def contact_from_lead(
    fields: Mapping[str, Any],
    mappings: Iterable[tuple[str, str]] = (),
    *,
    phone_region: str = "US",
) -> ContactData:
    """Build the contact for (source, target) pairs; a source holding "{{" is a template.

    Raises MappingSkip when the lead cannot be sent (an invalid email or date of birth,
    neither an email nor a phone): the delivery is recorded as `skip`.
    """
    config = step_config(
        name="",
        recipient="",
        phone_region=phone_region,
        mappings=[
            mapping_config(
                kind="template" if is_template(source) else "field", source=source, target=target
            )
            for source, target in mappings
        ],
    )
    mapped = step_map(
        config=config, context=lead_context(fields=fields, system=SystemFields(), steps={})
    )
    if mapped.contact is None:
        raise MappingSkip(mapped.skip_reason)
    return mapped.contact
