"""Keap's XML-RPC endpoint (`crm/xmlrpc/v1` and `crm/xmlrpc`), as a Django view.

Reference: crm-wire-spec.md §5 and §7.2. Transport rules:
- Faults are HTTP 200 with a fault envelope; gateway rejections (401, 429) are HTTP
  errors, raised before the call is parsed (see gateway.py).
- The legacy key parameter must still be there: a wrong arity or type is the Apache
  XML-RPC fault "No method matching arguments: ..." (§5.1, K25).
- Replies use `<i4>` and bare-text strings, as Keap's server does (seeds/002 samples);
  requests may use `<int>` or `<i4>`, `<string>` or bare text.
"""

from __future__ import annotations

import xmlrpc.client
from xml.parsers.expat import ExpatError

from django.http import HttpRequest, HttpResponse

from . import control, faults
from . import xmlrpc_services as svc
from .gateway import keap_api

# method -> (handler, accepted signatures). s=string, i=int, b=boolean, d=struct, a=array.
METHODS = {
    "ContactService.add": (svc.add, ("sd",)),
    "ContactService.addWithDupCheck": (svc.add_with_dup_check, ("sds",)),
    "ContactService.update": (svc.update, ("sid",)),
    "ContactService.load": (svc.load, ("sia",)),
    "ContactService.findByEmail": (svc.find_by_email, ("ssa",)),
    "ContactService.merge": (svc.merge, ("sii",)),
    "ContactService.addToGroup": (svc.add_to_group, ("sii",)),
    "ContactService.removeFromGroup": (svc.remove_from_group, ("sii",)),
    "ContactService.addToCampaign": (svc.add_to_campaign, ("sii",)),
    "ContactService.removeFromCampaign": (svc.remove_from_campaign, ("sii",)),
    "ContactService.pauseCampaign": (svc.pause_campaign, ("sii",)),
    "ContactService.resumeCampaignForContact": (svc.resume_campaign_for_contact, ("sii",)),
    "ContactService.getNextCampaignStep": (svc.get_next_campaign_step, ("sii",)),
    "ContactService.rescheduleCampaignStep": (svc.reschedule_campaign_step, ("sai",)),
    "ContactService.runActionSequence": (svc.run_action_sequence, ("sii",)),
    "DataService.query": (svc.query, ("ssiida", "ssiidasb")),
    "DataService.getAppSetting": (svc.get_app_setting, ("sss",)),
    "DataService.getUserInfo": (svc.get_user_info, ("",)),
}
_CODES = {str: "s", bool: "b", int: "i", dict: "d", list: "a", tuple: "a"}


def _signature(params: tuple) -> str:
    return "".join(_CODES.get(type(p), "?") for p in params)


def call(method: str, params: tuple):
    """Run one call; returns the result or raises xmlrpc.client.Fault."""
    if method not in METHODS:
        raise faults.no_such_handler(method)
    handler, signatures = METHODS[method]
    if _signature(params) not in signatures:
        raise faults.no_method_matching(params)
    return handler(*params)


def _reply(payload: xmlrpc.client.Fault | tuple) -> HttpResponse:
    body = xmlrpc.client.dumps(payload, methodresponse=True, encoding="UTF-8")
    # Keap answers `<i4>` and bare-text strings; content is escaped, so tags are safe
    # to rewrite.
    body = body.replace("<int>", "<i4>").replace("</int>", "</i4>")
    body = body.replace("<string>", "").replace("</string>", "")
    return HttpResponse(body.encode("utf-8"), content_type="text/xml; charset=UTF-8")


@keap_api("xmlrpc")
def endpoint(request: HttpRequest, credential) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse("XML-RPC takes POST", status=405, content_type="text/plain")
    try:
        params, method = xmlrpc.client.loads(request.body)
    except (ExpatError, ValueError, TypeError, IndexError, xmlrpc.client.Error) as error:
        return _reply(xmlrpc.client.Fault(0, f"Failed to parse XML-RPC request: {error}"))
    control.count(f"xmlrpc:{method}")
    try:
        return _reply((call(method or "", params),))
    except xmlrpc.client.Fault as fault:
        return _reply(fault)
