from django.urls import path

from recommender.api import views

urlpatterns = [
    path("recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    path("tracks/<int:pk>/similar/", views.SimilarTracksView.as_view(), name="similar-tracks"),
]
