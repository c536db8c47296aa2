from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api import views

router = SimpleRouter()
router.register("tracks", views.TrackViewSet, basename="track")

urlpatterns = [
    path("styles/", views.StylesView.as_view(), name="styles"),
    *router.urls,
]
