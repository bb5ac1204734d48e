from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("aigc_platform.api_urls")),
    path("api/schema/", RedirectView.as_view(url="/api/v1/schema/", query_string=True)),
    path("", include("apps.dashboard.urls")),
]

# A database met down by a middleware is a 503 too, not a 500 (apps/core/http_errors.py).
handler500 = "apps.core.http_errors.server_error"
