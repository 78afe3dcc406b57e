"""OAuth connect and callback, mounted at /oauth/ (leadflow/urls.py)."""

from django.urls import path

from . import views

app_name = "oauth"

urlpatterns = [
    path("connect/<int:account_id>/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
]
