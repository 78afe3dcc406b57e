"""The recipient interface every CRM module implements, and the one error type.

A recipient turns one mapped contact plus one step's plan into CRM calls and
returns a DeliveryResult. It raises CrmError when the CRM (or the network) said
something that is not an outcome of its own: the engine decides, from
`retryable`, whether to try again later or to record a final `error`/`failure`.
The engine knows nothing else about any CRM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Protocol


class CrmError(Exception):
    """A CRM call failed. `reason` is a short fixed phrase: no lead data, no secrets.

    retryable: a later try may succeed (timeouts, connection errors, 5xx, 429).
    outcome:   what to record when no retry is left or allowed ("error" or "failure").
    auth:      the credentials were rejected (a refresh / reconnect may help).
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status: int | None = None,
        outcome: str | None = None,
        auth: bool = False,
        retry_after: float | None = None,
        contact_id: str = "",
        duplicate: bool | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.outcome = outcome or ("error" if retryable or auth else "failure")
        self.auth = auth
        self.retry_after = retry_after
        self.contact_id = contact_id
        self.duplicate = duplicate


@dataclass(frozen=True)
class Credentials:
    """How to reach and authenticate to one CRM account."""

    base_url: str
    api_key: str = ""
    access_token: str = ""
    location_id: str = ""  # HighLevel sub-account


@dataclass
class ContactData:
    """A lead mapped to CRM-neutral contact fields (see integrations.mapping)."""

    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    suffix: str = ""
    email: str = ""
    phones: list[str] = field(default_factory=list)  # E.164 where parseable, up to 3
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region_code: str = ""  # ISO 3166-2, e.g. "US-TX", when the state is recognised
    region_name: str = ""  # the state as received, or its full name when recognised
    postal_code: str = ""
    country_alpha2: str = ""  # ISO 3166-1 alpha-2 ("US"), when known
    country_alpha3: str = ""  # ISO 3166-1 alpha-3 ("USA"), when known
    website: str = ""
    notes: str = ""  # LeadConduit "comments": Keap person notes
    job_title: str = ""
    birthday: date | None = None
    company: str = ""
    # Set by hand in the step's field mappings:
    custom_fields: dict[str, Any] = field(default_factory=dict)  # CRM custom field id -> value
    extra: dict[str, Any] = field(default_factory=dict)  # CRM-native field name -> value

    @property
    def has_address(self) -> bool:
        return any(
            (self.address_line1, self.address_line2, self.city, self.region_name, self.postal_code)
        )


@dataclass(frozen=True)
class StepPlan:
    """What a recipient step asks for, independent of the CRM."""

    action: str  # "create" | "create_or_update"
    duplicate_match: str  # "Email" | "EmailAndName" | "EmailAndNameAndCompany"
    address_type: str = "BILLING"
    tag_ids: tuple[Any, ...] = ()
    sequences: tuple[dict[str, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    # True when an earlier attempt of this delivery may have reached the CRM (timeout,
    # dropped connection, 5xx): a non-idempotent create must look before it leaps.
    may_have_been_sent: bool = False
    # Fields the marketer keeps on an existing contact (set only on a new one):
    # ContactData attribute names, "custom:<id>" or "extra:<name>". Empty: no look-up.
    preserve_fields: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DeliveryResult:
    outcome: str  # "success" | "failure" | "skip"
    reason: str = ""
    contact_id: str = ""
    duplicate: bool | None = None


class CrmCalls(Protocol):
    """The HTTP seam (integrations.crm.http.CrmSession) as recipients see it."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


class RecipientClient(Protocol):
    """One module per CRM API implements this (see integrations.crm.registry)."""

    kind: ClassVar[str]

    def deliver(
        self, *, contact: ContactData, plan: StepPlan, credentials: Credentials, http: CrmCalls
    ) -> DeliveryResult:
        """Send one contact. Returns the outcome, or raises CrmError.

        Must be safe to call again after a failure part way: prefer upserts, and
        when `plan.may_have_been_sent`, look for the contact before creating it.
        """
        ...
