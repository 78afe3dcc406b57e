"""The sandbox's HighLevel API v2: contacts and the catalogue a marketer picks from.

Paths, statuses and bodies follow shared/specs/highlevel-contacts.openapi.json (and
apps/locations|workflows|campaigns|users.json of the same docs repository) and the
quirks of wire spec §7.3. Every view gets the authenticated Caller from gateway.api_view.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from . import schema, store
from .gateway import Caller, api_view, check_location, error, no_route, read_json, unprocessable
from .models import Campaign, Contact, CustomField, User, Workflow


def _body(request: HttpRequest, dto: str) -> tuple[dict[str, Any], HttpResponse | None]:
    body, bad = read_json(request)
    if bad:
        return {}, bad
    problems = schema.violations(dto, body)
    return body, (unprocessable(problems) if problems else None)


def _contact(caller: Caller, contact_id: str) -> Contact | JsonResponse:
    # §7.3.8: an unknown id is a 400, not a 404.
    contact = Contact.objects.filter(pk=contact_id, location=caller.location).first()
    return contact or error(400, f"Contact with id {contact_id} not found")


def _duplicate(found: Contact, field: str) -> JsonResponse:
    # §6.5 / §7.3.1: the location does not allow duplicates.
    meta = {"contactId": found.id, "contactName": found.name, "matchingField": field}
    return error(400, "This location does not allow duplicated contacts.", meta=meta)


def _cleaned(body: dict[str, Any], caller: Caller) -> dict[str, Any] | HttpResponse:
    try:
        return store.clean(body, caller.location)
    except store.Rejected as exc:
        return unprocessable(exc.messages)


# Reference: POST /contacts/ (create-contact) → 201 {"contact": …}
@api_view
def contacts(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method != "POST":
        return no_route(request)
    body, bad = _body(request, "CreateContactDto")
    bad = bad or check_location(caller, body.get("locationId"))
    values = bad or _cleaned(body, caller)
    if isinstance(values, HttpResponse):
        return values
    with transaction.atomic():
        if not caller.location.allow_duplicates:
            match = store.find_match(
                caller.location, email=values.get("email", ""), phone=values.get("phone", "")
            )
            if match:
                return _duplicate(*match)
        contact = store.create(caller.location, values)
    return JsonResponse({"contact": store.serialize(contact, dob_as_datetime=True)}, status=201)


# Reference: POST /contacts/upsert (upsert-contact) → 200 {"new", "contact", "traceId"}
@api_view
def upsert(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method != "POST":
        return no_route(request)
    body, bad = _body(request, "UpsertContactDto")
    bad = bad or check_location(caller, body.get("locationId"))
    values = bad or _cleaned(body, caller)
    if isinstance(values, HttpResponse):
        return values
    location = caller.location
    with transaction.atomic():
        # UpsertContactDto.createNewIfDuplicateAllowed: creates only when the location
        # allows duplicates; otherwise the normal upsert applies.
        force_new = body.get("createNewIfDuplicateAllowed") and location.allow_duplicates
        email, phone = values.get("email", ""), values.get("phone", "")
        match = None if force_new else store.find_match(location, email=email, phone=phone)
        if match is None:
            contact, new = store.create(location, values), True
        else:
            contact, field = match
            if field == "email" and phone:
                other = store.find_match(location, phone=phone, exclude=contact.id)
                if other:  # §7.3.2: the second-priority field is silently ignored
                    values.pop("phone")
            contact, new = store.update(contact, values), False
    return JsonResponse(
        {"new": new, "contact": store.serialize(contact), "traceId": store.trace_id()}
    )


# Reference: GET|PUT|DELETE /contacts/{contactId}
@api_view
def contact_detail(request: HttpRequest, caller: Caller, contact_id: str) -> HttpResponse:
    if request.method not in ("GET", "PUT", "DELETE"):
        return no_route(request)
    contact = _contact(caller, contact_id)
    if isinstance(contact, HttpResponse):
        return contact
    if request.method == "GET":
        return JsonResponse({"contact": store.serialize(contact)})
    if request.method == "DELETE":
        contact.delete()
        return JsonResponse({"succeded": True})
    body, bad = _body(request, "UpdateContactDto")
    values = bad or _cleaned(body, caller)
    if isinstance(values, HttpResponse):
        return values
    with transaction.atomic():
        if not caller.location.allow_duplicates:
            match = store.find_match(
                caller.location,
                email=values.get("email", ""),
                phone=values.get("phone", ""),
                exclude=contact.id,
            )
            if match:
                return _duplicate(*match)
        store.update(contact, values)
    return JsonResponse({"succeded": True, "contact": store.serialize(contact)})


# Reference: GET /contacts/search/duplicate?locationId=&email=&number= (get-duplicate-contact)
@api_view
def search_duplicate(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method != "GET":
        return no_route(request)
    bad = check_location(caller, request.GET.get("locationId"))
    if bad:
        return bad
    # Django has already decoded %2B and %40, as the spec asks callers to send them.
    number = request.GET.get("number", "").strip()
    phone = store.e164(number, caller.location.country) if number else ""
    match = store.find_match(
        caller.location, email=request.GET.get("email", "").strip(), phone=phone or ""
    )
    contact = store.serialize(match[0]) if match else None
    return JsonResponse({"contact": contact, "traceId": store.trace_id()})


# Reference: POST|DELETE /contacts/{contactId}/tags (add-tags 201, remove-tags 200)
@api_view
def tags(request: HttpRequest, caller: Caller, contact_id: str) -> HttpResponse:
    if request.method not in ("POST", "DELETE"):
        return no_route(request)
    body, bad = _body(request, "TagsDTO")
    contact = bad or _contact(caller, contact_id)
    if isinstance(contact, HttpResponse):
        return contact
    given = store.normalise_tags(body["tags"])
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if request.method == "POST":
            contact.tags = store.normalise_tags([*contact.tags, *given])
        else:
            contact.tags = [t for t in contact.tags if t not in given]
        contact.date_updated = timezone.now()
        contact.save(update_fields=["tags", "date_updated"])
    return JsonResponse({"tags": contact.tags}, status=201 if request.method == "POST" else 200)


def _enrol(request: HttpRequest, contact: Contact, field: str, item_id: str, **extra: Any) -> None:
    """Add to / remove from `contact.<field>` (workflows or campaigns); idempotent."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        current = [e for e in getattr(contact, field) if e["id"] != item_id]
        if request.method == "POST":
            added = {"id": item_id, "addedAt": store.iso(timezone.now()), **extra}
            previous = [e for e in getattr(contact, field) if e["id"] == item_id]
            current.append(previous[0] if previous else added)
        setattr(contact, field, current)
        contact.save(update_fields=[field])


# Reference: POST|DELETE /contacts/{contactId}/workflow/{workflowId} → 200 {"succeded": true}
@api_view
def workflow(request: HttpRequest, caller: Caller, contact_id: str, workflow_id: str):
    if request.method not in ("POST", "DELETE"):
        return no_route(request)
    body, bad = _body(request, "CreateWorkflowDto")
    contact = bad or _contact(caller, contact_id)
    if isinstance(contact, HttpResponse):
        return contact
    if not Workflow.objects.filter(pk=workflow_id, location=caller.location).exists():
        return error(400, f"Workflow with id {workflow_id} not found")
    start = {"eventStartTime": body["eventStartTime"]} if body.get("eventStartTime") else {}
    _enrol(request, contact, "workflows", workflow_id, **start)
    # §7.3.5: the misspelled key is HighLevel's own.
    return JsonResponse({"succeded": True})


# Reference: POST|DELETE /contacts/{contactId}/campaigns/{campaignId} → 201 {"succeded": true}
@api_view
def campaign(request: HttpRequest, caller: Caller, contact_id: str, campaign_id: str):
    if request.method not in ("POST", "DELETE"):
        return no_route(request)
    _, bad = _body(request, "AddContactToCampaignDto")
    contact = bad or _contact(caller, contact_id)
    if isinstance(contact, HttpResponse):
        return contact
    if not Campaign.objects.filter(pk=campaign_id, location=caller.location).exists():
        return error(400, f"Campaign with id {campaign_id} not found")
    _enrol(request, contact, "campaigns", campaign_id)
    return JsonResponse({"succeded": True}, status=201 if request.method == "POST" else 200)


# Reference: GET /locations/{locationId}/customFields?model= (apps/locations.json)
@api_view
def custom_fields(request: HttpRequest, caller: Caller, location_id: str) -> HttpResponse:
    if request.method != "GET":
        return no_route(request)
    bad = check_location(caller, location_id)
    if bad:
        return bad
    fields = [
        {
            "id": f.id,
            "name": f.name,
            "fieldKey": f.field_key,
            "placeholder": "",
            "dataType": f.data_type,
            "position": f.position,
            "picklistOptions": f.picklist_options,
            "locationId": f.location_id,
            "model": "contact",
        }
        for f in CustomField.objects.filter(location=caller.location)
    ]
    if request.GET.get("model") == "opportunity":
        fields = []  # the sandbox has contact fields only
    return JsonResponse({"customFields": fields})


def _listing(request: HttpRequest, caller: Caller, build) -> HttpResponse:
    if request.method != "GET":
        return no_route(request)
    return check_location(caller, request.GET.get("locationId")) or JsonResponse(build())


# Reference: GET /workflows/?locationId= (apps/workflows.json)
@api_view
def workflows(request: HttpRequest, caller: Caller) -> HttpResponse:
    return _listing(
        request,
        caller,
        lambda: {
            "workflows": [
                {
                    "id": w.id,
                    "name": w.name,
                    "status": w.status,
                    "version": w.version,
                    "createdAt": store.iso(w.created_at),
                    "updatedAt": store.iso(w.created_at),
                    "locationId": w.location_id,
                }
                for w in Workflow.objects.filter(location=caller.location)
            ]
        },
    )


# Reference: GET /campaigns/?locationId=&status= (apps/campaigns.json)
@api_view
def campaigns(request: HttpRequest, caller: Caller) -> HttpResponse:
    found = Campaign.objects.filter(location=caller.location)
    if request.GET.get("status"):
        found = found.filter(status=request.GET["status"])
    return _listing(
        request,
        caller,
        lambda: {
            "campaigns": [
                {"id": c.id, "name": c.name, "status": c.status, "locationId": c.location_id}
                for c in found
            ]
        },
    )


# Reference: GET /users/?locationId= (apps/users.json, get-user-by-location)
@api_view
def users(request: HttpRequest, caller: Caller) -> HttpResponse:
    return _listing(
        request,
        caller,
        lambda: {
            "users": [
                {
                    "id": u.id,
                    "name": f"{u.first_name} {u.last_name}",
                    "firstName": u.first_name,
                    "lastName": u.last_name,
                    "email": u.email,
                    "phone": u.phone,
                    "extension": "",
                    "roles": {"type": "account", "role": u.role, "locationIds": [u.location_id]},
                }
                for u in User.objects.filter(location=caller.location)
            ]
        },
    )
