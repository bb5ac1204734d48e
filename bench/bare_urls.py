"""The project's URLs plus one bare Django view, the api_ingest bench's baseline: it pays
for what a view pays (the whole middleware stack and URL resolution) and nothing more."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), path("", include("aigc_platform.urls"))]
