"""Keap REST v1 (`/sandbox/keap/crm/rest/v1/...`), the subset a lead-delivery client
uses. Statuses as declared in the v1 spec (§2.2), plus the undeclared 400s (§2.5).

Reference: crm-wire-spec.md §2 and §7.1; shared/specs/keap-rest-v1.openapi.json.
"""

from __future__ import annotations

from datetime import datetime
from functools import wraps
from urllib.parse import urlencode

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import rest_input, seed, store
from .gateway import keap_api
from .models import Contact, Enrollment, Note
from .rest_input import INVALID, BadRequest


def _message(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


def _not_allowed() -> JsonResponse:
    return _message("Method not allowed", 405)


def _contact_or_404(contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise LookupError(f"Contact with id {contact_id} not found")
    return contact


def rest_view(view):
    """A REST v1 view behind the gateway; BadRequest -> 400, LookupError -> 404."""

    @keap_api("rest")
    @wraps(view)
    def wrapper(request: HttpRequest, *args, credential, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return _message(error.message)
        except LookupError as error:
            return _message(str(error.args[0]), 404)

    return wrapper


def _list_values(request: HttpRequest, name: str) -> set[str]:
    """Query arrays arrive exploded (?a=x&a=y) or comma-joined (?a=x,y)."""
    return {v.strip() for raw in request.GET.getlist(name) for v in raw.split(",") if v.strip()}


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest() from None


def _page(request: HttpRequest, items: list, key: str, total: int | None = None) -> dict:
    """Keap list envelope: {<key>: [...], count, next, previous}."""
    limit = max(1, min(_int_param(request, "limit", 1000), 1000))
    offset = max(0, _int_param(request, "offset", 0))

    def link(at: int) -> str:
        query = {**request.GET.dict(), "limit": limit, "offset": at}
        return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")

    return {
        key: items[offset : offset + limit],
        "count": len(items) if total is None else total,
        "next": link(offset + limit),
        "previous": link(max(0, offset - limit)),
    }


# --- contacts ------------------------------------------------------------------------


@rest_view
def contacts(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _contact_list(request)
    if request.method == "POST":
        # §7.1.1: POST never dedupes; a second POST with the same email is a second contact.
        body = rest_input.parse_body(request.body, path="/v1/contacts", method="post")
        patch = rest_input.contact_patch(body)
        if not rest_input.has_email_or_phone(patch):
            raise BadRequest("Contact must have an email address or a phone number")
        contact = store.contact_create(patch)
        return JsonResponse(store.contact_rest(contact), status=201)
    if request.method == "PUT":
        return _contact_upsert(request)
    return _not_allowed()


def _contact_upsert(request: HttpRequest) -> HttpResponse:
    """§7.1.2: duplicate_option is a body field, Email|EmailAndName (the schema's enum
    rejects EmailAndNameAndCompany). 200 whether it matched or created."""
    body = rest_input.parse_body(request.body, path="/v1/contacts", method="put", required=False)
    option = body.pop("duplicate_option", None)
    patch = rest_input.contact_patch(body)
    with transaction.atomic():  # match and write as one step, as Keap's upsert is
        match = None
        if option:
            match = store.contact_find_duplicate(
                email=rest_input.primary_email(body),
                mode=option,
                given_name=body.get("given_name", ""),
                family_name=body.get("family_name", ""),
            )
        if match is None:
            if not rest_input.has_email_or_phone(patch):
                raise BadRequest("Contact must have an email address or a phone number")
            match = store.contact_create(patch)
        else:
            store.contact_apply(match, patch)
    return JsonResponse(store.contact_rest(match))


def _contact_list(request: HttpRequest) -> HttpResponse:
    query = Contact.objects.select_related("company")
    if request.GET.get("email"):
        query = query.filter(store.email_q(request.GET["email"]))
    for param, column in (("given_name", "given_name_lc"), ("family_name", "family_name_lc")):
        if request.GET.get(param):
            query = query.filter(**{column: request.GET[param].lower()})
    for param, lookup in (("since", "last_updated__gte"), ("until", "last_updated__lte")):
        if request.GET.get(param):
            query = query.filter(**{lookup: _timestamp(request.GET[param])})
    order = {
        "id": "id",
        "date_created": "date_created",
        "last_updated": "last_updated",
        "name": "family_name_lc",
        "firstName": "given_name_lc",
        "email": "email1",
    }.get(request.GET.get("order", "id"))
    if order is None:
        raise BadRequest()
    if request.GET.get("order_direction", "ASCENDING").upper() == "DESCENDING":
        order = f"-{order}"
    optional = _list_values(request, "optional_properties")
    rows = list(query.order_by(order, "id"))
    page = _page(request, rows, "contacts")
    page["contacts"] = [store.contact_partial(c, optional=optional) for c in page["contacts"]]
    return JsonResponse(page)


def _timestamp(raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest() from None


@rest_view
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    if request.method == "GET":
        optional = _list_values(request, "optional_properties")
        return JsonResponse(store.contact_rest(contact, optional=optional))
    if request.method == "PATCH":
        body = rest_input.parse_body(request.body, path="/v1/contacts/{contactId}", method="patch")
        mask = _list_values(request, "update_mask")
        if mask - rest_input.PATCHABLE:
            raise BadRequest()
        if mask:  # only the listed properties are updated; the rest of the body is ignored
            body = {k: v for k, v in body.items() if k in mask}
        store.contact_apply(contact, rest_input.contact_patch(body))
        return JsonResponse(store.contact_rest(contact))
    if request.method == "DELETE":
        contact.delete()
        return HttpResponse(status=204)
    return _not_allowed()


@rest_view
def contact_model(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _not_allowed()
    fields = [
        {
            "id": f.id,
            "label": f.label,
            "field_name": f.field_name,
            "default_value": None,
            "field_type": f.field_type,
            "record_type": "CONTACT",
            "options": [],
        }
        for f in seed.CUSTOM_FIELDS.values()
    ]
    return JsonResponse(
        {"custom_fields": fields, "optional_properties": list(store.OPTIONAL_PROPERTIES)}
    )


# --- tags ----------------------------------------------------------------------------


def _tag_json(tag: seed.Tag) -> dict:
    return {
        "id": tag.id,
        "name": tag.name,
        "description": tag.description,
        "category": {
            "id": tag.category_id,
            "name": seed.TAG_CATEGORIES[tag.category_id],
            "description": "",
        },
    }


@rest_view
def contact_tags(request: HttpRequest, contact_id: int) -> HttpResponse:
    if request.method == "POST":
        # §7.1.8: 200 even for bad ids, with a status per tag, as an object keyed by id
        # (the spec's array-of-{key} form is not what Keap sends).
        body = rest_input.parse_body(
            request.body, path="/v1/contacts/{contactId}/tags", method="post"
        )
        return JsonResponse(store.tags_apply(contact_id=contact_id, tag_ids=body.get("tagIds", [])))
    contact = _contact_or_404(contact_id)
    if request.method == "DELETE":
        try:
            ids = [int(v) for v in _list_values(request, "ids")]
        except ValueError:
            raise BadRequest() from None
        store.tags_remove(contact=contact, tag_ids=ids)
        return HttpResponse(status=204)
    if request.method == "GET":
        rows = [
            {"tag": _tag_json(seed.TAGS[r.tag_id]), "date_applied": store.iso(r.date_applied)}
            for r in contact.tag_rows.order_by("date_applied", "id")
        ]
        return JsonResponse(_page(request, rows, "tags"))
    return _not_allowed()


@rest_view
def tags(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _not_allowed()
    found = list(seed.TAGS.values())
    if request.GET.get("category"):
        found = [t for t in found if str(t.category_id) == request.GET["category"]]
    if request.GET.get("name"):
        found = [t for t in found if t.name.casefold() == request.GET["name"].casefold()]
    return JsonResponse(_page(request, [_tag_json(t) for t in found], "tags"))


# --- campaigns, settings, notes ------------------------------------------------------


@rest_view
def sequence_contact(
    request: HttpRequest, campaign_id: int, sequence_id: int, contact_id: int
) -> HttpResponse:
    """204 with no body on success (§2.2). Bad campaign, sequence or contact: 400."""
    campaign = seed.CAMPAIGNS.get(campaign_id)
    if campaign is None or sequence_id not in campaign.sequences:
        raise BadRequest(f"Invalid campaign {campaign_id} or sequence {sequence_id}")
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise BadRequest(f"Contact with id {contact_id} not found")
    if request.method == "POST":
        store.enrollment_start(
            contact=contact,
            kind=Enrollment.CAMPAIGN,
            campaign_id=campaign_id,
            sequence_id=sequence_id,
        )
    elif request.method == "DELETE":
        contact.enrollments.filter(
            kind=Enrollment.CAMPAIGN, campaign_id=campaign_id, sequence_id=sequence_id
        ).update(status=Enrollment.REMOVED)
    else:
        return _not_allowed()
    return HttpResponse(status=204)


@rest_view
def contact_option_types(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _not_allowed()
    return JsonResponse({"value": ",".join(seed.CONTACT_TYPES)})


@rest_view
def notes(request: HttpRequest) -> HttpResponse:
    """Note records (§2.4): where a REST client keeps a contact's "person notes"."""
    if request.method == "POST":
        body = rest_input.parse_body(request.body, path="/v1/notes", method="post")
        contact = Contact.objects.filter(pk=body["contact_id"]).first()
        if contact is None:
            raise BadRequest(f"Contact with id {body['contact_id']} not found")
        if "user_id" in body and body["user_id"] not in seed.USERS:
            raise BadRequest(INVALID)
        note = store.note_create(
            contact=contact,
            title=body.get("title", ""),
            body=body.get("body", ""),
            type=body.get("type", ""),
            user_id=body.get("user_id"),
        )
        return JsonResponse(store.note_rest(note), status=201)
    if request.method != "GET":
        return _not_allowed()
    query = Note.objects.order_by("id")
    for param in ("contact_id", "user_id"):
        if request.GET.get(param):
            query = query.filter(**{param: _int_param(request, param, 0)})
    return JsonResponse(_page(request, [store.note_rest(n) for n in query], "notes"))


# --- companies -----------------------------------------------------------------------


def _company_json(company) -> dict:
    return {"id": company.id, "company_name": company.name}


@rest_view
def companies(request: HttpRequest) -> HttpResponse:
    """Companies (§2.3: a contact's `company` is `{id}` only on a request, so clients
    find or create the company record by name first)."""
    from .models import Company

    seed.ensure_companies()
    if request.method == "POST":
        body = rest_input.parse_body(request.body, path="/v1/companies", method="post")
        name = str(body.get("company_name", "")).strip()
        if not name:
            raise BadRequest(INVALID)
        if Company.objects.filter(name__iexact=name).exists():
            raise BadRequest("Company name already exists")
        return JsonResponse(_company_json(store.company_for_name(name)), status=201)
    if request.method != "GET":
        return _not_allowed()
    query = Company.objects.order_by("id")
    if request.GET.get("company_name"):
        query = query.filter(name__iexact=request.GET["company_name"])
    return JsonResponse(_page(request, [_company_json(c) for c in query], "companies"))


# --- campaigns and users (the catalogue a "Test connection" reads) --------------------


def _campaign_json(campaign: seed.Campaign, *, with_sequences: bool) -> dict:
    out = {"id": campaign.id, "name": campaign.name, "locked": False, "published_status": True}
    if with_sequences:
        out["sequences"] = [{"id": sid, "name": name} for sid, name in campaign.sequences.items()]
    return out


@rest_view
def campaigns(request: HttpRequest) -> HttpResponse:
    """GET /v1/campaigns: the list omits sequences unless optional_properties asks."""
    if request.method != "GET":
        return _not_allowed()
    with_sequences = "sequences" in _list_values(request, "optional_properties")
    items = [_campaign_json(c, with_sequences=with_sequences) for c in seed.CAMPAIGNS.values()]
    return JsonResponse(_page(request, items, "campaigns"))


@rest_view
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    if request.method != "GET":
        return _not_allowed()
    campaign = seed.CAMPAIGNS.get(campaign_id)
    if campaign is None:
        raise LookupError(f"Campaign with id {campaign_id} not found")
    with_sequences = "sequences" in _list_values(request, "optional_properties")
    return JsonResponse(_campaign_json(campaign, with_sequences=with_sequences))


@rest_view
def users(request: HttpRequest) -> HttpResponse:
    """GET /v1/users: the app's users, i.e. the possible contact owners."""
    if request.method != "GET":
        return _not_allowed()
    items = []
    for user_id, user in seed.USERS.items():
        given, _, family = user["name"].partition(" ")
        items.append(
            {
                "id": user_id,
                "given_name": given,
                "family_name": family,
                "email_address": user["email"],
                "status": "Active",
            }
        )
    return JsonResponse(_page(request, items, "users"))
