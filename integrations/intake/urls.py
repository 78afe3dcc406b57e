from django.urls import path

from . import health, openapi, views

urlpatterns = [
    path("api/v1/flows/<int:flow_id>/leads", views.lead_create, name="lead-create"),
    path("api/v1/leads/<str:lead_id>", views.lead_detail, name="lead-detail"),
    path("api/v1/openapi.json", openapi.openapi_document, name="openapi"),
    path("healthz", health.healthz, name="healthz"),
]
