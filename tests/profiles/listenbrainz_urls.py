"""The site's URLs plus ListenBrainz's /1/ API, for tests that need it mounted."""

from django.urls import include, path

from musicsite.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("1/", include("profiles.listenbrainz.urls")), *site_urlpatterns]
