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
