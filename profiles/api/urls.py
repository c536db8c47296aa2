from django.urls import path

from profiles.api import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/export/", views.ExportView.as_view(), name="me-export"),
    path("me/password/", views.PasswordView.as_view(), name="me-password"),
    path("me/token/", views.TokenRevokeView.as_view(), name="me-token"),
    path("listens/", views.ListensView.as_view(), name="listens"),
    path("listens/import/", views.ImportView.as_view(), name="listens-import"),
    path("listens/import/<str:job_id>/", views.ImportJobView.as_view(), name="listens-import-job"),
    path("feedback/", views.FeedbackView.as_view(), name="feedback"),
]
