"""ListenBrainz-compatible API, mounted at /1/ (as api.listenbrainz.org serves it)."""

from django.urls import path

from profiles.listenbrainz import views

urlpatterns = [
    path("submit-listens", views.SubmitListensView.as_view(), name="lb-submit-listens"),
    path("validate-token", views.ValidateTokenView.as_view(), name="lb-validate-token"),
    path("user/<path:user_name>/listens", views.UserListensView.as_view(), name="lb-listens"),
    path(
        "user/<path:user_name>/playing-now",
        views.PlayingNowView.as_view(),
        name="lb-playing-now",
    ),
    path(
        "user/<path:user_name>/listen-count",
        views.ListenCountView.as_view(),
        name="lb-listen-count",
    ),
]
