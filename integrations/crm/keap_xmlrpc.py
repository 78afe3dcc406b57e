"""Keap (Infusionsoft) legacy XML-RPC: the ContactService client and the recipient.

Reference: crm-wire-spec.md §5 (transport, fault envelope, ContactService signatures)
and §7.2; the legacy ContactService docs (Continumity/Infusionsoft-API-Documentation
`contactservice.html`, mirrored in seeds/002).

The recipient (`KeapXmlRpcRecipient`, kind "keap_xmlrpc") runs, for one contact:

1. the contact call, by `plan.action`:
   - "create": `ContactService.add` (Keap never dedupes it). When
     `plan.may_have_been_sent`, `findByEmail` first and adopt the newest match
     instead of adding a second contact.
   - "create_or_update": `ContactService.addWithDupCheck(data, plan.duplicate_match)`
     with "Email", "EmailAndName" or "EmailAndNameAndCompany".
2. then, in this order:
   - `plan.tag_ids`                        -> `addToGroup` for each tag id
   - `plan.options["remove_tag_ids"]`      -> `removeFromGroup` for each tag id
   - `plan.sequences` `{"campaign_id": n}` -> `addToCampaign` (legacy follow-up sequence)
   - `plan.options["pause_sequence_ids"]`  -> `pauseCampaign`
   - `plan.options["resume_sequence_ids"]` -> `resumeCampaignForContact`
   - `plan.options["remove_sequence_ids"]` -> `removeFromCampaign`
   - `plan.options["action_set_ids"]`      -> `runActionSequence`; a result item with
     IsError true fails the delivery ("action set reported an error").
   Every option is a list of integer ids; absent means none.

The boolean answers of the group and campaign calls are ignored: Keap's own samples
show `0` for successful calls (seeds/002), so only a fault means failure.
"""

from __future__ import annotations

import re
import xmlrpc.client
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from xml.parsers.expat import ExpatError

from .base import ContactData, Credentials, CrmCalls, CrmError, DeliveryResult, StepPlan
from .http import retry_after_seconds
from .keap_xmlrpc_fields import contact_fields
from .operations import Operations, SavedContact

XMLRPC_PATH = "/xmlrpc/v1"
# The key parameter must be present even with header auth; the server ignores its
# value. Send the PHP SDK's literal (sic), never the secret (§5.1).
LEGACY_KEY = "backwards-compatability"
DUPLICATE_MATCHES = ("Email", "EmailAndName", "EmailAndNameAndCompany")

# faultCode -> name, from nateleavitt/infusionsoft `exception_handler.rb` (§5.2).
FAULT_NAMES = {
    1: "InvalidConfig",
    2: "InvalidKey",
    3: "Unexpected",
    4: "DatabaseError",
    5: "RecordNotFound",
    6: "LoadingError",
    7: "NoTableAccess",
    8: "NoFieldAccess",
    9: "NoTableFound",
    10: "NoFieldFound",
    11: "NoFields",
    12: "InvalidParameter",
    13: "FailedLoginAttempt",
    14: "NoAccess",
    15: "FailedLoginAttemptPasswordExpired",
}
AUTH_FAULTS = {"InvalidKey", "FailedLoginAttempt", "FailedLoginAttemptPasswordExpired", "NoAccess"}
FAULT_REASONS = {
    "RecordNotFound": "record not found",
    # A bad campaign id is tagged `[Loading]`, not `[LoadingError]` (§5.2, K11 #76).
    "Loading": "follow-up sequence not found",
    "LoadingError": "follow-up sequence not found",
    "InvalidParameter": "invalid parameter",
}
_FAULT_TAG = re.compile(r"^\s*\[(\w+)\]")
# "[NoFieldFound]No field found: Contact.given_name": the name comes from the step's
# configuration, never from the lead, so it may appear in the reason.
_MISSING_FIELD = re.compile(r"No field found:\s*([A-Za-z_][\w.]{0,100})", re.I)


def fault_error(code: int, text: str) -> CrmError:
    """The CrmError for an XML-RPC fault. The bracket tag in faultString wins over the
    code (they disagree for `[Loading]`); the reason never quotes the fault text."""
    tag = _FAULT_TAG.match(text or "")
    name = tag.group(1) if tag else FAULT_NAMES.get(code, "")
    if name in AUTH_FAULTS:
        return CrmError("authentication rejected", retryable=False, auth=True)
    if name == "NoFieldFound":
        field = _MISSING_FIELD.search(text or "")
        return CrmError(
            f"no field found: {field.group(1)}" if field else "no field found", retryable=False
        )
    if name in FAULT_REASONS:
        return CrmError(FAULT_REASONS[name], retryable=False)
    return CrmError(f"XML-RPC fault {code}", retryable=False)


def _http_error(response: Any) -> CrmError:
    """A gateway rejection: Keap's API gateway answers auth and throttling with HTTP
    errors, not faults (§5.2, §7.2.6)."""
    status = response.status_code
    if status in (401, 403):
        return CrmError("authentication rejected", retryable=False, status=status, auth=True)
    if status == 429:
        return CrmError(
            "rate limited", retryable=True, status=status, retry_after=retry_after_seconds(response)
        )
    if status >= 500:
        return CrmError("CRM server error", retryable=True, status=status)
    return CrmError(f"unexpected HTTP {status}", retryable=False, status=status)


def _unreadable() -> CrmError:
    return CrmError("unreadable CRM response", retryable=True)


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _unreadable()
    return value


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _unreadable()
    return value


def _as_structs(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _unreadable()
    return value


@dataclass(frozen=True)
class ActionResult:
    """One line of runActionSequence's answer."""

    action: str
    message: str
    is_error: bool


# Reference: seeds/002 (ContactService), crm-wire-spec.md §5.1-5.3 and §7.2.
class ContactServiceClient:
    """Keap's XML-RPC ContactService over one CrmSession (so every call is an attempt).

    Every method raises CrmError: auth (401/403 or an auth fault), retryable (429,
    5xx, timeouts, an unreadable body) or a failure (any other fault).
    """

    def __init__(self, http: CrmCalls, credentials: Credentials):
        self.http = http
        self.credentials = credentials
        self.url = credentials.base_url.rstrip("/") + XMLRPC_PATH

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "text/xml", "Accept": "text/xml"}
        if self.credentials.api_key:
            headers["X-Keap-API-Key"] = self.credentials.api_key
        elif self.credentials.access_token:
            headers["Authorization"] = f"Bearer {self.credentials.access_token}"
        else:
            raise CrmError("no credentials", retryable=False, auth=True)
        return headers

    def call(self, method: str, *params: Any) -> Any:
        """Call ContactService.<method>(key, *params) and return its one result value.
        A qualified `method` ("DataService.query") calls that service instead."""
        headers = self._headers()
        name = method if "." in method else f"ContactService.{method}"
        body = xmlrpc.client.dumps((LEGACY_KEY, *params), methodname=name, encoding="utf-8")
        response = self.http.request("POST", self.url, data=body.encode("utf-8"), headers=headers)
        if response.status_code != 200:
            raise _http_error(response)
        try:
            (result,), _ = xmlrpc.client.loads(response.content, use_builtin_types=True)
        except xmlrpc.client.Fault as fault:
            raise fault_error(fault.faultCode, str(fault.faultString)) from None
        except (ExpatError, xmlrpc.client.Error, ValueError, TypeError):
            raise _unreadable() from None
        return result

    def add(self, data: dict[str, Any]) -> int:
        """Create a contact; returns its id. Never dedupes: not safe to repeat."""
        return _as_int(self.call("add", data))

    def add_with_dup_check(self, data: dict[str, Any], dup_check_type: str) -> int:
        """Update the contact matching `dup_check_type` ("Email", "EmailAndName",
        "EmailAndNameAndCompany") with `data`, or create one; returns its id. Safe to repeat."""
        if dup_check_type not in DUPLICATE_MATCHES:
            raise CrmError("invalid duplicate match", retryable=False)
        return _as_int(self.call("addWithDupCheck", data, dup_check_type))

    def update(self, contact_id: int, data: dict[str, Any]) -> int:
        """Set `data` on an existing contact; returns its id. Raises "record not found"."""
        return _as_int(self.call("update", contact_id, data))

    def load(self, contact_id: int, fields: Sequence[str]) -> dict[str, Any]:
        """The requested fields of one contact (Keap leaves out empty ones)."""
        result = self.call("load", contact_id, list(fields))
        if not isinstance(result, dict):
            raise _unreadable()
        return result

    def find_by_email(self, email: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        """Contacts whose Email, EmailAddress2 or EmailAddress3 is `email`."""
        return _as_structs(self.call("findByEmail", email, list(fields)))

    def merge(self, contact_id: int, duplicate_contact_id: int) -> bool:
        """Merge the duplicate into `contact_id`."""
        return _as_bool(self.call("merge", contact_id, duplicate_contact_id))

    def add_to_group(self, contact_id: int, tag_id: int) -> bool:
        """Apply a tag (groups were tags' old name). Safe to repeat."""
        return _as_bool(self.call("addToGroup", contact_id, tag_id))

    def remove_from_group(self, contact_id: int, tag_id: int) -> bool:
        """Remove a tag. Safe to repeat."""
        return _as_bool(self.call("removeFromGroup", contact_id, tag_id))

    def add_to_campaign(self, contact_id: int, campaign_id: int) -> bool:
        """Start a legacy follow-up sequence. A bad id: "follow-up sequence not found"."""
        return _as_bool(self.call("addToCampaign", contact_id, campaign_id))

    def remove_from_campaign(self, contact_id: int, campaign_id: int) -> bool:
        """Take the contact out of a follow-up sequence."""
        return _as_bool(self.call("removeFromCampaign", contact_id, campaign_id))

    def pause_campaign(self, contact_id: int, campaign_id: int) -> bool:
        """Pause a follow-up sequence for the contact."""
        return _as_bool(self.call("pauseCampaign", contact_id, campaign_id))

    def resume_campaign_for_contact(self, contact_id: int, campaign_id: int) -> bool:
        """Resume a paused follow-up sequence for the contact."""
        return _as_bool(self.call("resumeCampaignForContact", contact_id, campaign_id))

    def get_next_campaign_step(self, contact_id: int, campaign_id: int) -> int:
        """The id of the contact's next step in the follow-up sequence."""
        return _as_int(self.call("getNextCampaignStep", contact_id, campaign_id))

    def reschedule_campaign_step(self, contact_ids: Sequence[int], step_id: int) -> int:
        """Run a sequence step now for these contacts; returns how many were rescheduled."""
        return _as_int(self.call("rescheduleCampaignStep", list(contact_ids), step_id))

    def run_action_sequence(self, contact_id: int, action_set_id: int) -> list[ActionResult]:
        """Run an action set on the contact. Not safe to repeat: the actions run again."""
        items = _as_structs(self.call("runActionSequence", contact_id, action_set_id))
        try:
            return [
                ActionResult(
                    action=str(item.get("Action", "")).strip(),
                    message=str(item.get("Message", "")).strip(),
                    is_error=_as_bool(item["IsError"]),
                )
                for item in items
            ]
        except KeyError:
            raise _unreadable() from None


def _ids(values: Iterable[Any]) -> list[int]:
    """Configured ids as ints; a non-integer is a configuration failure."""
    ids = []
    for value in values or ():
        if isinstance(value, bool):
            raise CrmError("invalid id in step", retryable=False)
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            raise CrmError("invalid id in step", retryable=False) from None
    return ids


@dataclass(frozen=True)
class _Actions:
    """The follow-up calls of one plan, validated before anything is sent."""

    add_tags: list[int]
    remove_tags: list[int]
    add_campaigns: list[int]
    pause_campaigns: list[int]
    resume_campaigns: list[int]
    remove_campaigns: list[int]
    action_sets: list[int]

    @classmethod
    def from_plan(cls, plan: StepPlan) -> _Actions:
        options = plan.options or {}
        if any(not isinstance(item, dict) or "campaign_id" not in item for item in plan.sequences):
            raise CrmError("invalid sequence in step", retryable=False)
        return cls(
            add_tags=_ids(plan.tag_ids),
            remove_tags=_ids(options.get("remove_tag_ids", [])),
            add_campaigns=_ids(item["campaign_id"] for item in plan.sequences),
            pause_campaigns=_ids(options.get("pause_sequence_ids", [])),
            resume_campaigns=_ids(options.get("resume_sequence_ids", [])),
            remove_campaigns=_ids(options.get("remove_sequence_ids", [])),
            action_sets=_ids(options.get("action_set_ids", [])),
        )

    def run(self, client: ContactServiceClient, contact_id: int, ops: Operations) -> None:
        """Each call is one operation: a retry resumes after the last that completed."""
        calls = (
            ("tags", self.add_tags, client.add_to_group),
            ("remove tags", self.remove_tags, client.remove_from_group),
            ("follow-up sequence", self.add_campaigns, client.add_to_campaign),
            ("pause sequence", self.pause_campaigns, client.pause_campaign),
            ("resume sequence", self.resume_campaigns, client.resume_campaign_for_contact),
            ("remove sequence", self.remove_campaigns, client.remove_from_campaign),
        )
        for part, ids, method in calls:
            for item_id in ids:
                ops.run(f"{part}:{item_id}", lambda _, m=method, i=item_id: m(contact_id, i))
        for action_set_id in self.action_sets:
            # Not repeatable (its actions run again), and there is nothing to look up:
            # after a try that may have run it, it runs again (at least once).
            ops.run(
                f"action set:{action_set_id}",
                lambda _, a=action_set_id: _run_action_set(client, contact_id, a),
                repeatable=False,
            )


def _run_action_set(client: ContactServiceClient, contact_id: int, action_set_id: int) -> None:
    results = client.run_action_sequence(contact_id, action_set_id)
    if any(result.is_error for result in results):
        raise CrmError("action set reported an error", retryable=False)


class KeapXmlRpcRecipient:
    """Delivers one contact through Keap's XML-RPC ContactService (see module docstring)."""

    kind: ClassVar[str] = "keap_xmlrpc"

    def deliver(
        self,
        *,
        contact: ContactData,
        plan: StepPlan,
        credentials: Credentials,
        http: CrmCalls,
        operations: Operations | None = None,
    ) -> DeliveryResult:
        """Create or upsert the contact, then run the plan's tag/sequence/action-set calls,
        each as one operation of `operations` (see integrations.crm.operations).

        Returns a success with the contact id and `duplicate` (an existing contact was
        matched). Raises CrmError; once the contact exists, the error carries its id and
        names the part that failed. Safe to call again, except that an action set that
        may have run runs again.
        """
        ops = operations or Operations(assume_sent=plan.may_have_been_sent)
        try:
            data = contact_fields(contact, address_type=plan.address_type)
        except ValueError:
            raise CrmError("unknown address type", retryable=False) from None
        actions = _Actions.from_plan(plan)
        client = ContactServiceClient(http, credentials)
        if plan.action == "create":
            saved = ops.save_contact(
                lambda sent: self._create(client, contact, data, sent), repeatable=False
            )
        elif plan.action == "create_or_update":
            saved = ops.save_contact(
                lambda _: self._upsert(client, contact, data, plan), repeatable=True
            )
        else:
            raise CrmError("unsupported action", retryable=False)
        actions.run(client, int(saved.id), ops)
        return DeliveryResult(outcome="success", contact_id=saved.id, duplicate=saved.duplicate)

    def _create(
        self,
        client: ContactServiceClient,
        contact: ContactData,
        data: dict[str, Any],
        sent: bool,
    ) -> SavedContact:
        """`add`; after a possibly-delivered earlier attempt, adopt the newest contact
        with this email instead (the earlier attempt's contact, if it got through).
        Adopting reports duplicate=True: an existing contact was matched, whether or
        not our own earlier attempt made it. Phone-only contacts cannot be looked up
        through ContactService, so they are added again."""
        if sent and contact.email:
            existing = client.find_by_email(contact.email, ["Id"])
            if existing:
                return SavedContact(str(max(_as_int(c.get("Id")) for c in existing)), True)
        return SavedContact(str(client.add(data)), False)

    def _upsert(
        self,
        client: ContactServiceClient,
        contact: ContactData,
        data: dict[str, Any],
        plan: StepPlan,
    ) -> SavedContact:
        """`addWithDupCheck`, with `duplicate` from one `findByEmail` before it.

        addWithDupCheck answers only an id, the same for "updated" and "created"
        (§7.2.4). Every dupCheckType includes Email, so any contact it can match has
        this email: the id is a duplicate exactly when it was among the contacts that
        already had the email. That costs one call, and stays right whatever name or
        company rules Keap applies. Without an email there is nothing to look up, and
        `duplicate` is None (unknown).

        With `plan.preserve_fields`, a contact found by the same rule is updated with
        those fields left out (`update`); otherwise addWithDupCheck writes them all.
        """
        if plan.duplicate_match not in DUPLICATE_MATCHES:
            raise CrmError("invalid duplicate match", retryable=False)
        if not contact.email:
            return SavedContact(str(client.add_with_dup_check(data, plan.duplicate_match)), None)
        found = client.find_by_email(contact.email, list(_MATCH_FIELDS))
        existing = sorted(_as_int(item.get("Id")) for item in found)
        if plan.preserve_fields:
            match = _first_match(found, contact, plan.duplicate_match)
            if match is not None:
                kept = contact_fields(
                    contact.without(plan.preserve_fields), address_type=plan.address_type
                )
                return SavedContact(str(client.update(match, kept)), True)
        contact_id = client.add_with_dup_check(data, plan.duplicate_match)
        return SavedContact(str(contact_id), contact_id in existing)


_MATCH_FIELDS = ("Id", "FirstName", "LastName", "Company")


def _first_match(found: list[dict[str, Any]], contact: ContactData, rule: str) -> int | None:
    """The oldest contact with this email that `rule` would match, as addWithDupCheck
    picks it (§7.2.4)."""

    def same(item: dict[str, Any], key: str, value: str) -> bool:
        return str(item.get(key) or "").casefold() == value.casefold()

    for item in sorted(found, key=lambda c: _as_int(c.get("Id"))):
        named = same(item, "FirstName", contact.first_name) and same(
            item, "LastName", contact.last_name
        )
        if rule == "Email" or (
            named and (rule == "EmailAndName" or same(item, "Company", contact.company))
        ):
            return _as_int(item.get("Id"))
    return None
