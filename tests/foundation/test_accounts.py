"""Accounts and profile endpoints, as API.md defines them."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from catalog.midi.style_space import STYLES
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
ME = "/api/v1/me/"


def register(api_client, username="bob", password="correct horse battery", **extra):
    return api_client.post(REGISTER, {"username": username, "password": password, **extra})


def test_register_returns_a_working_token(api_client):
    response = register(api_client, email="bob@example.org")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "username", "token"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    me = api_client.get(ME)
    assert me.status_code == 200
    assert me.json()["id"] == body["id"]
    assert me.json()["username"] == "bob"


def test_register_refuses_taken_username_case_insensitively(api_client):
    assert register(api_client, username="Carol").status_code == 201
    response = register(api_client, username="carol")
    assert response.status_code == 400
    assert "username" in response.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "dave", "password": "123"}, "password"),
        ({"username": "dave", "password": "password"}, "password"),
        ({"password": "correct horse battery"}, "username"),
        ({"username": "has space", "password": "correct horse battery"}, "username"),
        ({"username": "dave", "password": "correct horse battery", "email": "x"}, "email"),
    ],
)
def test_register_validation_errors_name_the_field(api_client, payload, field):
    response = api_client.post(REGISTER, payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not get_user_model().objects.filter(username="dave").exists()


def test_token_for_valid_credentials_and_field_error_otherwise(api_client, user):
    ok = api_client.post(TOKEN, {"username": "alice", "password": "a-long-enough-password"})
    assert ok.status_code == 200
    assert ok.json() == {"token": user.auth_token.key}
    bad = api_client.post(TOKEN, {"username": "alice", "password": "wrong"})
    assert bad.status_code == 400
    assert "non_field_errors" in bad.json()


def test_me_requires_authentication(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_me_shows_no_taste_before_the_first_fit(auth_client):
    body = auth_client.get(ME).json()
    assert body["taste"] is None
    assert body["preferences"] == {}


def test_patch_preferences_merges_and_removes(auth_client):
    first = auth_client.patch(
        ME, {"preferences": {"styles": ["fiddle", "folk", "fiddle"], "tempo_bpm": [90, 140]}}
    )
    assert first.status_code == 200, first.json()
    second = auth_client.patch(
        ME, {"preferences": {"tempo_bpm": None, "avoid_styles": ["chorale"]}}
    )
    assert second.status_code == 200, second.json()
    assert second.json()["preferences"] == {
        "styles": ["fiddle", "folk"],
        "avoid_styles": ["chorale"],
    }


@pytest.mark.parametrize(
    "preferences",
    [
        {"styles": ["polka"]},
        {"tempo_bpm": [150, 90]},
        {"tempo_bpm": [90]},
        {"tempo_bpm": [5, 90]},
        {"colour": "blue"},
        {"generated_share": 2},
        {"styles": ["folk"], "avoid_styles": ["folk"]},
    ],
)
def test_invalid_preferences_are_refused_and_nothing_changes(auth_client, preferences):
    auth_client.patch(ME, {"preferences": {"styles": ["madrigal"]}})
    response = auth_client.patch(ME, {"preferences": preferences}, format="json")
    assert response.status_code == 400
    assert "preferences" in response.json()
    assert auth_client.get(ME).json()["preferences"] == {"styles": ["madrigal"]}


def test_avoiding_every_style_is_refused(auth_client):
    response = auth_client.patch(ME, {"preferences": {"avoid_styles": list(STYLES)}}, format="json")
    assert response.status_code == 400
    assert "Leave at least one style" in str(response.json()["preferences"])
    assert auth_client.get(ME).json()["preferences"] == {}


def test_export_contains_account_and_preferences(auth_client, user):
    auth_client.patch(ME, {"preferences": {"styles": ["medieval"]}})
    response = auth_client.get("/api/v1/me/export/")
    assert response.status_code == 200
    assert response.streaming  # a long history is sent as it is read
    body = json.loads(b"".join(response.streaming_content))
    assert body["account"]["username"] == user.username
    assert body["preferences"] == {"styles": ["medieval"]}
    assert "attachment" in response["Content-Disposition"]


def test_delete_removes_account_and_token(make_user):
    doomed, survivor = make_user("doomed"), make_user("survivor")
    client = client_for(doomed)
    assert client.delete(ME).status_code == 204
    assert not get_user_model().objects.filter(username="doomed").exists()
    assert client.get(ME).status_code == 401
    assert client_for(survivor).get(ME).status_code == 200


def test_auth_endpoints_are_throttled(api_client, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    codes = [
        api_client.post(TOKEN, {"username": "x", "password": "y"}).status_code for _ in range(4)
    ]
    assert codes[:3] == [400, 400, 400]
    assert codes[3] == 429
    cache.clear()


def test_unknown_api_path_answers_json_404(auth_client):
    response = auth_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_malformed_json_is_a_400_with_detail(api_client):
    response = api_client.post(REGISTER, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_a_forged_forwarded_address_does_not_reset_the_sign_in_limit(api_client, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    codes = [
        api_client.post(
            TOKEN, {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}"
        ).status_code
        for i in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    cache.clear()


@pytest.mark.django_db
def test_the_admin_login_form_is_throttled_per_address(client, make_user, monkeypatch):
    from django.core.cache import cache

    from musicsite.middleware import AdminLoginThrottle

    cache.clear()
    make_user("boss", staff=True)
    monkeypatch.setattr(AdminLoginThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    wrong = {"username": "boss", "password": "guess"}
    codes = [client.post("/admin/login/", wrong).status_code for _ in range(3)]
    right = client.post("/admin/login/", {"username": "boss", "password": "a-long-enough-password"})
    assert codes == [200, 200, 200]  # the form again, with its error
    assert right.status_code == 429 and int(right["Retry-After"]) > 0
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/listens/", "/1/submit-listens"])
def test_json_nested_too_deeply_is_a_400(api_client, user, path, settings):
    settings.ROOT_URLCONF = "musicsite.urls"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    body = "[" * 100_000 + "]" * 100_000
    answer = api_client.post(path, body, content_type="application/json")
    assert answer.status_code == 400


@pytest.mark.django_db
def test_a_look_alike_of_an_existing_name_cannot_register(api_client, make_user):
    make_user("alice")
    answer = api_client.post(
        "/api/v1/auth/register/",
        {"username": "\uff21\uff2c\uff29\uff23\uff25", "password": "a-long-enough-password"},
    )
    assert answer.status_code == 400 and "already exists" in str(answer.json()["username"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["\u0430lice", "al\u0131ce", "\u00c4lice", "stra\u00dfe", "\u01c5emal"]
)
def test_names_outside_plain_ascii_cannot_register(api_client, name):
    answer = api_client.post(
        "/api/v1/auth/register/", {"username": name, "password": "a-long-enough-password"}
    )
    assert answer.status_code == 400
    assert "A-Z" in answer.json()["username"][0]
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_the_database_holds_one_account_per_name_whatever_its_case(make_user):
    make_user("Carol")
    with pytest.raises(IntegrityError), transaction.atomic():
        get_user_model().objects.create_user(username="cAROL", password="x")


@pytest.mark.django_db
def test_a_name_taken_at_the_same_moment_is_a_field_error_not_a_conflict(
    api_client, make_user, monkeypatch
):
    make_user("carol")
    # As if the other registration committed between the check and the insert.
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    answer = api_client.post(
        "/api/v1/auth/register/", {"username": "Carol", "password": "a-long-enough-password"}
    )
    assert answer.status_code == 400
    assert answer.json() == {"username": ["A user with that username already exists."]}
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_answers_with_a_token_are_never_cached(api_client, make_user):
    make_user("alice")
    token = api_client.post(TOKEN, {"username": "alice", "password": "a-long-enough-password"})
    registered = api_client.post(
        "/api/v1/auth/register/", {"username": "bob", "password": "a-long-enough-password"}
    )
    assert token.status_code == 200 and registered.status_code == 201
    assert token["Cache-Control"] == registered["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_changing_the_password_replaces_the_token(api_client, make_user):
    user = make_user("alice")
    old = client_for(user)
    wrong = old.post(
        "/api/v1/me/password/",
        {"current_password": "nope", "new_password": "another-long-password"},
    )
    weak = old.post(
        "/api/v1/me/password/",
        {"current_password": "a-long-enough-password", "new_password": "123"},
    )
    changed = old.post(
        "/api/v1/me/password/",
        {"current_password": "a-long-enough-password", "new_password": "another-long-password"},
    )

    assert wrong.status_code == 400 and "current_password" in wrong.json()
    assert weak.status_code == 400 and "new_password" in weak.json()
    assert changed.status_code == 200 and changed["Cache-Control"] == "no-store"
    assert old.get(ME).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {changed.json()['token']}")
    assert api_client.get(ME).status_code == 200
    relogin = APIClient().post(TOKEN, {"username": "alice", "password": "another-long-password"})
    assert relogin.json()["token"] == changed.json()["token"]


@pytest.mark.django_db
def test_signing_out_everywhere_revokes_the_token(make_user):
    user = make_user("alice")
    client = client_for(user)

    assert client.delete("/api/v1/me/token/").status_code == 204
    assert client.get(ME).status_code == 401
    fresh = APIClient().post(TOKEN, {"username": "alice", "password": "a-long-enough-password"})
    assert fresh.status_code == 200 and fresh.json()["token"] != user.auth_token.key


@pytest.mark.django_db
def test_the_admin_cannot_rename_an_account_to_another_ones_name_in_other_case(client, make_user):
    admin = make_user("root", staff=True)
    admin.is_superuser = True
    admin.save()
    make_user("alice")
    bob = make_user("bob")
    client.force_login(admin)
    page = client.get(f"/admin/auth/user/{bob.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(username="ALICE", date_joined_0="2026-11-01", date_joined_1="10:00:00")
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data.pop("groups", None)
    data.pop("user_permissions", None)
    answer = client.post(f"/admin/auth/user/{bob.pk}/change/", data)
    assert answer.status_code == 200
    assert "A user with that username already exists." in answer.text
    bob.refresh_from_db()
    assert bob.username == "bob"


@pytest.mark.django_db
def test_the_demo_account_never_takes_over_an_account_named_like_it(make_user):
    make_user("Demo")
    with pytest.raises(CommandError, match="'Demo' holds the demo name 'demo'"):
        call_command("ensure_demo_user")
    assert not get_user_model().objects.get(username="Demo").is_staff


@pytest.mark.django_db
def test_the_case_index_migration_names_accounts_it_cannot_index(make_user):
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    migration = import_module("profiles.migrations.0005_username_unique_without_case")
    with connection.cursor() as cursor:  # as before the migration (rolled back after the test)
        cursor.execute(f"DROP INDEX {migration.INDEX}")
    make_user("carol")
    make_user("Carol")
    make_user("dave")
    with pytest.raises(RuntimeError, match=r"'carol': \[.*'Carol'.*\]"):
        migration.refuse_case_twins(apps, None)


@pytest.fixture
def three_wrong_passwords_lock(settings):
    from django.core.cache import cache

    cache.clear()
    settings.SIGN_IN_FAILURES_PER_ACCOUNT = 3
    yield
    cache.clear()


def _sign_in_from(address: str, username: str, password: str):
    return APIClient(REMOTE_ADDR=address).post(TOKEN, {"username": username, "password": password})


@pytest.mark.django_db
def test_wrong_passwords_from_many_addresses_lock_the_account(
    make_user, three_wrong_passwords_lock
):
    make_user("carol")
    make_user("dave")
    # Each guess from its own address: the per-address throttle never sees a second one.
    guesses = [
        _sign_in_from(f"10.0.0.{i}", name, "guess")
        for i, name in enumerate(["carol", "CAROL", "carol"], start=1)
    ]
    right = _sign_in_from("10.0.0.9", "carol", "a-long-enough-password")
    other = _sign_in_from("10.0.0.9", "dave", "a-long-enough-password")

    assert [guess.status_code for guess in guesses] == [400, 400, 400]
    assert right.status_code == 429, right.json()
    assert int(right["Retry-After"]) > 3500
    assert "wrong passwords for this account" in right.json()["detail"]
    assert "token" not in right.json()
    assert other.status_code == 200 and other.json()["token"]


@pytest.mark.django_db
def test_a_locked_account_cannot_sign_in_to_the_admin(
    client, make_user, three_wrong_passwords_lock
):
    make_user("boss", staff=True)
    for i in range(3):
        _sign_in_from(f"10.0.1.{i}", "boss", "guess")

    page = client.post("/admin/login/", {"username": "boss", "password": "a-long-enough-password"})

    assert page.status_code == 200  # the form again, saying why
    assert "wrong passwords for this account" in page.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_guessing_the_current_password_locks_the_password_change(
    make_user, three_wrong_passwords_lock
):
    user = make_user("erin")
    client = client_for(user)
    change = {"current_password": "nope", "new_password": "another-long-password"}
    wrong = [client.post("/api/v1/me/password/", change).status_code for _ in range(3)]
    change["current_password"] = "a-long-enough-password"
    right = client.post("/api/v1/me/password/", change)

    assert wrong == [400, 400, 400]
    assert right.status_code == 429 and int(right["Retry-After"]) > 0
    user.refresh_from_db()
    assert user.check_password("a-long-enough-password")


def test_a_lock_lasts_its_hour_with_the_file_cache(settings, tmp_path, monkeypatch):
    import time

    from profiles import sign_in

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    settings.SIGN_IN_FAILURES_PER_ACCOUNT = 3
    start = time.time()
    for _ in range(3):
        sign_in.note_failure("carol")

    monkeypatch.setattr(time, "time", lambda: start + 301)  # past the cache's default timeout
    later = sign_in.seconds_locked("carol")
    monkeypatch.setattr(time, "time", lambda: start + sign_in.WINDOW_S + 1)
    after_the_hour = sign_in.seconds_locked("carol")

    assert sign_in.WINDOW_S - 310 < later <= sign_in.WINDOW_S - 300
    assert after_the_hour == 0


@pytest.mark.django_db
def test_a_limit_of_zero_locks_nobody(make_user, three_wrong_passwords_lock, settings):
    make_user("carol")
    settings.SIGN_IN_FAILURES_PER_ACCOUNT = 0
    for i in range(3):
        _sign_in_from(f"10.0.2.{i}", "carol", "guess")

    assert _sign_in_from("10.0.2.9", "carol", "a-long-enough-password").status_code == 200
