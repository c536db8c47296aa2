"""The admin's listening views, and concurrent submissions of the same listens."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from catalog.midi.style_space import STYLES, VECTOR_DIM
from profiles.models import Listen
from tests.helpers import client_for

T0 = 1_700_000_000


@pytest.mark.django_db
def test_admin_shows_a_listening_summary_and_filters_listens(client, make_user, make_track):
    staff = make_user("staff", staff=True)
    staff.is_superuser = True
    staff.save()
    listener = make_user("listener")
    track, reel = make_track("Chorale", "Bach"), make_track("Reel", "Ryan")
    for styled, style in ((track, 0), (reel, 4)):
        styled.style_vector = [1.0 if i == style else 0.0 for i in range(VECTOR_DIM)]
        styled.save()
    listens = [{"track": track.pk, "listened_at": T0 + i} for i in range(3)]
    listens.append({"track": reel.pk, "listened_at": T0})
    client_for(listener).post("/api/v1/listens/", {"listens": listens}, format="json")
    client.force_login(staff)

    profile_page = client.get(f"/admin/profiles/profile/{listener.profile.pk}/change/")
    assert profile_page.status_code == 200
    expected = f"4 listens of 2 tracks; top styles: {STYLES[0]} 75%, {STYLES[4]} 25%"
    assert expected in profile_page.text
    changelist = client.get(
        "/admin/profiles/listen/", {"source": "api", "user__id__exact": staff.pk}
    )
    assert changelist.status_code == 200 and "0 listens" in changelist.text
    by_user = client.get("/admin/profiles/listen/", {"user__id__exact": listener.pk})
    assert "Chorale" in by_user.text
    dated = client.get("/admin/profiles/listen/", {"listened_at__year": "2023"})
    assert dated.status_code == 200 and "Chorale" in dated.text

    people = client.get("/admin/profiles/profile/").context["cl"].result_list
    totals = {p.user.username: (p._listens, p._tracks, p._last) for p in people}
    assert totals["listener"] == (4, 2, datetime.fromtimestamp(T0 + 2, UTC))
    assert totals["staff"] == (None, 0, None)


@pytest.mark.django_db(transaction=True)
def test_concurrent_clients_never_double_a_listen(make_user, make_track):
    user = make_user("racer")
    tracks = [make_track(f"Tune {i}") for i in range(50)]
    listens = [{"track": t.pk, "listened_at": T0 + i} for i, t in enumerate(tracks)]
    metadata = [
        {"track_metadata": {"artist_name": "Racer", "track_name": f"New {i}"}, "listened_at": T0}
        for i in range(50)
    ]
    tallies: list[dict] = []
    start = threading.Barrier(4)

    def submit() -> None:
        try:
            start.wait()
            response = client_for(user).post(
                "/api/v1/listens/", {"listens": listens + metadata}, format="json"
            )
            tallies.append(response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(t["accepted"] for t in tallies) == 100 == Listen.objects.count()
    assert sum(t["duplicates"] for t in tallies) == 300
    assert Listen.objects.values("track").distinct().count() == 100
