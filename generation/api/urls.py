from rest_framework.routers import SimpleRouter

from generation.api import views

router = SimpleRouter()
router.register("generations", views.GenerationViewSet, basename="generation")
router.register("playlists", views.PlaylistViewSet, basename="playlist")
urlpatterns = router.urls
