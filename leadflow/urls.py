from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from integrations.intake import urls as intake_urls

# The admin's login goes through allauth, so its rate limits and MFA apply.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "LeadFlow"
admin.site.site_title = "LeadFlow"
admin.site.index_title = "Lead delivery"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("oauth/", include("integrations.accounts.urls")),
    path("", include(intake_urls)),
]

if settings.SANDBOX_ENABLED:
    urlpatterns += [path("sandbox/", include("integrations.sandbox.urls"))]

if settings.BENCH_REFERENCE_VIEWS:
    urlpatterns += [path("bench/", include("leadflow.bench_views"))]
