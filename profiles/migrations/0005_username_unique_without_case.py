"""One account per name whatever its case, in the database too: two registrations of "Carol"
and "carol" sent at once would otherwise both pass the service's check."""

from django.db import migrations

INDEX = "profiles_username_unique_without_case"


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0004_account_deletion"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE UNIQUE INDEX {INDEX} ON auth_user (LOWER(username))",
            f"DROP INDEX {INDEX}",
        )
    ]
