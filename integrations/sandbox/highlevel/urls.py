"""Mounted at /sandbox/highlevel/, mirroring services.leadconnectorhq.com (and the
marketplace consent page), so only a base URL separates sandbox from production.
Trailing slashes are optional where the spec writes one (`/contacts/`). The root is
the sandbox's own HTML list of the contacts that arrived (see control_views)."""

from django.urls import path, re_path

from . import control_views, oauth_views, views

urlpatterns = [
    path("", control_views.index, name="sandbox_hl_index"),
    path("oauth/chooselocation", oauth_views.choose_location, name="sandbox_hl_chooselocation"),
    path("oauth/token", oauth_views.token, name="sandbox_hl_token"),
    re_path(r"^contacts/?$", views.contacts),
    path("contacts/upsert", views.upsert),
    path("contacts/search/duplicate", views.search_duplicate),
    path("contacts/<str:contact_id>", views.contact_detail),
    path("contacts/<str:contact_id>/tags", views.tags),
    path("contacts/<str:contact_id>/workflow/<str:workflow_id>", views.workflow),
    path("contacts/<str:contact_id>/campaigns/<str:campaign_id>", views.campaign),
    path("locations/<str:location_id>/customFields", views.custom_fields),
    re_path(r"^workflows/?$", views.workflows),
    re_path(r"^campaigns/?$", views.campaigns),
    re_path(r"^users/?$", views.users),
    path("_control/faults", control_views.faults_control),
    path("_control/location", control_views.location_control),
    path("_control/stats", control_views.stats_control),
    path("_control/contacts", control_views.contacts_control),
]
