from pathlib import Path

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from musicsite.health import healthz

handler400 = "musicsite.api.json_bad_request"
handler403 = "musicsite.api.json_permission_denied"
handler404 = "musicsite.api.json_not_found"
handler500 = "musicsite.api.json_server_error"

# Each app contributes `<app>/api/urls.py` under /api/v1/ once it has an API.
API_APPS = ("profiles", "catalog", "recommender", "generation")
api_v1 = [
    path("", include(f"{app}.api.urls"))
    for app in API_APPS
    if (Path(__file__).resolve().parent.parent / app / "api" / "urls.py").exists()
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("1/", include("profiles.listenbrainz.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]
