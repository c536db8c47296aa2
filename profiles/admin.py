from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, QuerySet, Sum
from django.http import HttpRequest

from profiles import sign_in
from profiles.models import Feedback, FeedbackEvent, Listen, NowPlaying, Profile
from profiles.selectors import listening_summary
from profiles.services import delete_account

User = get_user_model()
admin.site.unregister(User)


class LockAwareLoginForm(AdminAuthenticationForm):
    """The admin's sign-in, refusing an account locked by wrong passwords (sign_in)."""

    def clean(self) -> dict[str, Any]:
        wait = sign_in.seconds_locked(self.cleaned_data.get("username") or "")
        if wait:
            raise ValidationError(f"{sign_in.LOCKED} Try again in {wait} s.", code="locked")
        return super().clean()


admin.site.login_form = LockAwareLoginForm


class AccountChangeForm(UserChangeForm):
    def clean_username(self) -> str:
        """One account per name whatever its case, as registration has it."""
        name = self.cleaned_data["username"]
        twins = User.objects.filter(username__iexact=name).exclude(pk=self.instance.pk)
        if twins.exists():
            raise ValidationError("A user with that username already exists.")
        return name


@admin.register(User)
class AccountAdmin(UserAdmin):
    """Deleting people here deletes them as ``DELETE /api/v1/me/`` does: their published
    pieces stay, their files go, the taste model is refitted without them."""

    form = AccountChangeForm

    def delete_model(self, request: HttpRequest, obj: AbstractBaseUser) -> None:
        delete_account(user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            delete_account(user=user)


class ProfileChangeList(ChangeList):
    """Listening totals for the people on the page only: summed over every listen of every
    account, for the count and each filter too, they took seconds on a large database."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        totals = {
            row["pk"]: row
            for row in Profile.objects.filter(pk__in=[p.pk for p in self.result_list])
            .values("pk")
            .annotate(
                listens=Sum("user__listens__play_count"),
                tracks=Count("user__listens__track", distinct=True),
                last=Max("user__listens__listened_at"),
            )
        }
        for profile in self.result_list:
            row = totals.get(profile.pk, {})
            profile._listens, profile._tracks = row.get("listens"), row.get("tracks") or 0
            profile._last = row.get("last")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "listen_total",
        "distinct_tracks",
        "last_listen",
        "taste_model_version",
        "updated_at",
    )
    list_filter = ("taste_model_version",)
    search_fields = ("user__username", "user__email")
    readonly_fields = (
        "listening_summary",
        "taste_vector",
        "taste_styles",
        "taste_model_version",
        "taste_updated_at",
    )

    list_select_related = ("user",)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ProfileChangeList

    @admin.display(description="listens")
    def listen_total(self, profile: Profile) -> int:
        return profile._listens or 0

    @admin.display(description="distinct tracks")
    def distinct_tracks(self, profile: Profile) -> int:
        return profile._tracks

    @admin.display(description="last listen")
    def last_listen(self, profile: Profile) -> object:
        return profile._last

    @admin.display(description="listening summary")
    def listening_summary(self, profile: Profile) -> str:
        summary = listening_summary(user=profile.user)
        styles = ", ".join(f"{name} {weight:.0%}" for name, weight in summary["top_styles"].items())
        return (
            f"{summary['listens']} listens of {summary['distinct_tracks']} tracks; "
            f"top styles: {styles or 'none known'}; last listen: {summary['last_listen'] or '-'}"
        )


@admin.register(Listen)
class ListenAdmin(admin.ModelAdmin):
    list_display = ("user", "track", "listened_at", "source", "ms_played", "skipped", "play_count")
    # No per-user filter: its sidebar would list every account. Search by user name instead.
    list_filter = ("source", "skipped", ("listened_at", admin.DateFieldListFilter))
    # Newest stored first, by the primary key: sorting a table of millions by listened_at
    # (or drawing a date hierarchy over it) takes seconds per page.
    ordering = ("-id",)
    search_fields = ("user__username", "track__title", "track__artist")
    list_select_related = ("user", "track")
    raw_id_fields = ("user", "track")
    show_full_result_count = False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("user", "track", "score", "updated_at")
    list_filter = ("score",)
    search_fields = ("user__username", "track__title", "track__artist")
    list_select_related = ("user", "track")
    raw_id_fields = ("user", "track")


@admin.register(FeedbackEvent)
class FeedbackEventAdmin(admin.ModelAdmin):
    list_display = ("user", "track", "score", "created_at")
    list_filter = ("score",)
    search_fields = ("user__username", "track__title", "track__artist")
    list_select_related = ("user", "track")
    raw_id_fields = ("user", "track")


@admin.register(NowPlaying)
class NowPlayingAdmin(admin.ModelAdmin):
    list_display = ("user", "track", "started_at", "expires_at")
    raw_id_fields = ("user", "track")
