"""Names made only of punctuation were stored normalized to "" and so matched each other."""

from django.db import migrations
from django.db.models import Q

from catalog.models import normalize_name


def renormalize_punctuation_only_names(apps: object, schema_editor: object) -> None:
    track_model = apps.get_model("catalog", "Track")  # type: ignore[attr-defined]
    blank = Q(normalized_artist="") | Q(normalized_title="")
    changed = []
    for track in track_model.objects.filter(blank).only("artist", "title").iterator():
        track.normalized_artist = normalize_name(track.artist)
        track.normalized_title = normalize_name(track.title)
        changed.append(track)
    track_model.objects.bulk_update(
        changed, ["normalized_artist", "normalized_title"], batch_size=500
    )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.RunPython(renormalize_punctuation_only_names, migrations.RunPython.noop)
    ]
