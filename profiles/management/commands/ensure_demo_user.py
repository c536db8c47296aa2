from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from profiles.services import ensure_demo_staff


class Command(BaseCommand):
    help = "Create the demo staff account (idempotent) and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-staff-password")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user, created = ensure_demo_staff(
                username=options["username"], password=options["password"]
            )
        except ValueError as exc:
            raise CommandError(f"{exc}; give --username another name") from exc
        state = "created" if created else "already present"
        self.stdout.write(
            f"demo staff account {state}: username={user.username} "
            f"password={options['password']} "
            f"token={user.auth_token.key}"
        )
