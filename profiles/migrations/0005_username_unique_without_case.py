"""One account per name whatever its case, in the database too: two registrations of "Carol"
and "carol" sent at once would otherwise both pass the service's check."""

from django.db import migrations
from django.db.models import Count
from django.db.models.functions import Lower

INDEX = "profiles_username_unique_without_case"


def refuse_case_twins(apps: object, schema_editor: object) -> None:
    """Names that differ only in case (from before this index) stop the migration with a
    list to resolve, rather than the database's bare refusal to build the index."""
    user_model = apps.get_model("auth", "User")
    twins = (
        user_model.objects.annotate(folded=Lower("username"))
        .values("folded")
        .annotate(accounts=Count("id"))
        .filter(accounts__gt=1)
        .values_list("folded", flat=True)
    )
    if twins:
        names = {
            folded: list(
                user_model.objects.filter(username__iexact=folded).values_list(
                    "username", flat=True
                )
            )
            for folded in twins
        }
        raise RuntimeError(
            f"Accounts whose names differ only in case: {names}. Rename all but one of each "
            "(in the admin) and migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0004_account_deletion"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(refuse_case_twins, migrations.RunPython.noop),
        migrations.RunSQL(
            f"CREATE UNIQUE INDEX {INDEX} ON auth_user (LOWER(username))",
            f"DROP INDEX {INDEX}",
        ),
    ]
