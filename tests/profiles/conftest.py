from __future__ import annotations

import pytest

from catalog.models import Origin, Track


@pytest.fixture
def make_track(db):
    def make(title: str, artist: str = "Anon", *, public: bool = True, owner=None) -> Track:
        origin = Origin.UPLOAD if owner else Origin.CATALOG
        return Track.objects.create(
            title=title, artist=artist, origin=origin, is_public=public, owner=owner
        )

    return make
