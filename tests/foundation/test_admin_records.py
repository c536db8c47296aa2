"""Records that services write (model versions, jobs) are read, not made, in the admin."""

import pytest
from django.test import Client

from artifacts.models import ModelArtifact
from jobs.models import Job


@pytest.fixture
def admin_client_for_superuser(make_user) -> Client:
    boss = make_user("boss", staff=True)
    boss.is_superuser = True
    boss.save()
    client = Client()
    client.force_login(boss)
    return client


def _artifact(version: str, active: bool) -> ModelArtifact:
    return ModelArtifact.objects.create(
        kind="taste",
        version=version,
        path=f"taste/{version}.joblib",
        sha256="0" * 64,
        size_bytes=1,
        is_active=active,
    )


@pytest.mark.django_db
def test_the_serving_model_version_cannot_be_deleted_but_an_old_one_can(
    admin_client_for_superuser,
):
    active, old = _artifact("taste-new", True), _artifact("taste-old", False)
    base = "/admin/artifacts/modelartifact"

    assert admin_client_for_superuser.get(f"{base}/{active.pk}/delete/").status_code == 403
    assert admin_client_for_superuser.get(f"{base}/{old.pk}/delete/").status_code == 200
    assert admin_client_for_superuser.get(f"{base}/add/").status_code == 403


@pytest.mark.django_db
def test_jobs_are_not_added_by_hand_and_the_list_reads_owners_in_one_query(
    admin_client_for_superuser, make_user, django_assert_max_num_queries
):
    owners = [make_user(f"user{i}") for i in range(20)]
    Job.objects.bulk_create(Job(kind="train_taste", owner=owner) for owner in owners)

    assert admin_client_for_superuser.get("/admin/jobs/job/add/").status_code == 403
    with django_assert_max_num_queries(10):
        assert admin_client_for_superuser.get("/admin/jobs/job/").status_code == 200
