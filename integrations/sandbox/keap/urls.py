"""The Keap sandbox, mounted at /sandbox/keap/. Paths mirror Keap's hosts, so a client
changes only its base URL (KEAP_TOKEN_URL, KEAP_AUTHORIZE_URL, KEAP_API_BASE_URL):

  token                         OAuth2 token endpoint (authorization_code, refresh_token)
  app/oauth/authorize           consent page
  crm/rest/v1/...               REST v1 (contacts, companies, tags, campaigns, users, notes, ...)
  crm/xmlrpc/v1, crm/xmlrpc     XML-RPC (ContactService, DataService)

and the sandbox's own:

  _control/faults   GET: queued faults and effective config.
                    POST JSON, keys combinable:
                      {"status": 503, "count": 2}            next 2 API calls answer 503
                      {"latency_ms": 3000, "count": 1}       next call waits 3 s first
                      ... "target": "api"|"rest"|"xmlrpc"|"token"|"any" (default "api"),
                          "body": {...} (replaces the stock body), "retry_after": 5,
                          "path": "contacts" (substring of the path after keap/, or of
                          the XML-RPC method name), "method": "POST",
                          "jitter_ms", "probability", "drop", "malformed", "created"
                          (see integrations.sandbox.fault_modes)
                      {"status": 503, "created": true, "path": "contacts"}
                                                             saved, then answered 503
                      {"latency_ms": 5000, "created": true}  saved, then a timeout
                      {"status": 503, "probability": 0.2, "count": 100000}  random 5xx
                      {"expire_tokens": true}                every current access token expires
                      {"rate_limits": {"api_key": {"spike": 10, "minute": 240, "day": 30000},
                                       "oauth": {"spike": 25, ...}}}
                      {"retry_after": 2}                     Retry-After on 429s (default none)
                      {"token_ttl": 60}                      expires_in of new access tokens
                      {"reset": true}                        faults, config, stats, rate windows
                      {"reset_rate_windows": true}
                      {"wipe_data": true}                    contacts, companies, tokens
  _control/stats    GET: OAuth counters (refresh grants, rejected refresh tokens, per-token
                    presentations), API calls by "METHOD route", XML-RPC calls by method,
                    responses by status.
  _control/contacts GET (?email=): every contact with all fields, tags, sequences, notes.
  (empty path)      an HTML list of the contacts.
"""

from django.urls import path

from . import control_views, oauth_views, rest_views, xmlrpc_views

app_name = "sandbox_keap"

_V1 = "crm/rest/v1/"

urlpatterns = [
    path("", control_views.index, name="index"),
    path("token", oauth_views.token, name="token"),
    path("app/oauth/authorize", oauth_views.authorize, name="authorize"),
    path("crm/xmlrpc/v1", xmlrpc_views.endpoint, name="xmlrpc"),
    path("crm/xmlrpc", xmlrpc_views.endpoint, name="xmlrpc-unversioned"),
    path(f"{_V1}contacts", rest_views.contacts, name="contacts"),
    path(f"{_V1}contacts/model", rest_views.contact_model, name="contact-model"),
    path(f"{_V1}contacts/<int:contact_id>", rest_views.contact_detail, name="contact"),
    path(f"{_V1}contacts/<int:contact_id>/tags", rest_views.contact_tags, name="contact-tags"),
    path(f"{_V1}tags", rest_views.tags, name="tags"),
    path(
        f"{_V1}campaigns/<int:campaign_id>/sequences/<int:sequence_id>/contacts/<int:contact_id>",
        rest_views.sequence_contact,
        name="sequence-contact",
    ),
    path(f"{_V1}setting/contact/optionTypes", rest_views.contact_option_types, name="option-types"),
    path(f"{_V1}notes", rest_views.notes, name="notes"),
    path(f"{_V1}companies", rest_views.companies, name="companies"),
    path(f"{_V1}campaigns", rest_views.campaigns, name="campaigns"),
    path(f"{_V1}campaigns/<int:campaign_id>", rest_views.campaign_detail, name="campaign"),
    path(f"{_V1}users", rest_views.users, name="users"),
    path("_control/faults", control_views.faults, name="control-faults"),
    path("_control/stats", control_views.stats, name="control-stats"),
    path("_control/contacts", control_views.contacts, name="control-contacts"),
]
