"""The built-in CRM emulators, mounted under /sandbox/ when SANDBOX_ENABLED.

Paths mirror the real hosts so that only a base URL changes:
  /sandbox/keap/token, /sandbox/keap/app/oauth/authorize,
  /sandbox/keap/crm/rest/v1/..., /sandbox/keap/crm/xmlrpc/v1
  /sandbox/highlevel/oauth/token, /sandbox/highlevel/oauth/chooselocation,
  /sandbox/highlevel/contacts/...
"""

from django.urls import include, path

urlpatterns = [
    path("keap/", include("integrations.sandbox.keap.urls")),
    path("highlevel/", include("integrations.sandbox.highlevel.urls")),
]
