"""The recipient interface every CRM module implements, and the one error type.

A recipient turns one mapped contact plus one step's plan into CRM calls and
returns a DeliveryResult. It raises CrmError when the CRM (or the network) said
something that is not an outcome of its own: the engine decides, from
`retryable`, whether to try again later or to record a final `error`/`failure`.
The engine knows nothing else about any CRM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from .operations import Operations


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


class Throttled(Exception):
    """The CRM's quota has no slot for this call soon enough (or it answered 429): stop
    this delivery now and try it again at `retry_at`, at no cost in attempts.

    Deliberately not a CrmError, so a recipient's error handling never swallows it.
    """

    def __init__(self, retry_at: datetime, reason: str = "waiting for the CRM's rate limit"):
        super().__init__(reason)
        self.retry_at = retry_at
        self.reason = reason


class CallGate(Protocol):
    """What CrmSession asks before and after every HTTP call (the rate limiter)."""

    def before_call(self, meanwhile: Callable[[], None] | None = None) -> None:
        """Wait briefly for a slot in the quota, or raise Throttled. `meanwhile` (the
        request's preparation) runs once, while the limiter decides: its work overlaps
        the limiter's round trip."""
        ...

    def after_call(self, *, status: int, headers: Mapping[str, str]) -> None:
        """Read the CRM's quota headers; on a 429, slow down and raise Throttled."""
        ...


@dataclass(frozen=True)
class Credentials:
    """How to reach and authenticate to one CRM account."""

    base_url: str
    api_key: str = ""
    access_token: str = ""
    location_id: str = ""  # HighLevel sub-account


# One field for the marketer, two spellings here: keeping one keeps both.
_TWINS = {
    "region_code": ("region_name",),
    "region_name": ("region_code",),
    "country_alpha2": ("country_alpha3",),
    "country_alpha3": ("country_alpha2",),
}


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

    def without(self, names: frozenset[str]) -> ContactData:
        """A copy with the named fields left empty, so a CRM body leaves them out:
        ContactData attribute names, `custom:<id>` or `extra:<name>` (see
        StepPlan.preserve_fields). The email stays: it is what matched the contact."""
        if not names:
            return self
        names = names | {twin for name in names for twin in _TWINS.get(name, ())}
        blank: dict[str, Any] = {}
        for f in fields(self):
            if f.name in names and f.name not in ("email", "custom_fields", "extra"):
                blank[f.name] = [] if f.name == "phones" else (None if f.name == "birthday" else "")
        custom = {k: v for k, v in self.custom_fields.items() if f"custom:{k}" not in names}
        extra = {k: v for k, v in self.extra.items() if f"extra:{k}" not in names}
        return replace(self, **blank, custom_fields=custom, extra=extra)


@dataclass(frozen=True)
class StepPlan:
    """What a recipient step asks for, independent of the CRM."""

    action: str  # "create" | "create_or_update"
    duplicate_match: str  # "Email" | "EmailAndName" | "EmailAndNameAndCompany"
    address_type: str = "BILLING"
    tag_ids: tuple[Any, ...] = ()
    sequences: tuple[dict[str, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    # For callers that keep no record of operations between tries (the engine passes
    # `Operations` instead): True treats every non-repeatable call as possibly made
    # already (timeout, dropped connection, 5xx), so a create looks before it leaps.
    may_have_been_sent: bool = False
    # Fields the marketer keeps on an existing contact (ContactData attribute names,
    # `custom:<id>`, `extra:<name>`): when non-empty the recipient looks the contact up
    # first and, when it exists, leaves these out of the update; a new contact gets
    # them all. Empty: no look-up is paid for.
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
        self,
        *,
        contact: ContactData,
        plan: StepPlan,
        credentials: Credentials,
        http: CrmCalls,
        operations: Operations | None = None,
    ) -> DeliveryResult:
        """Send one contact. Returns the outcome, or raises CrmError.

        Every CRM call runs as an operation of `operations` (integrations.crm.
        operations), which an earlier try may have filled: completed operations are
        not called again, and one that may have reached the CRM looks before it
        writes. Without it, `plan.may_have_been_sent` says whether to look.
        """
        ...
