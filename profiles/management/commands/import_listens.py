"""manage.py import_listens --user U --format F FILE: import a listening-history file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from profiles.importers import FORMATS, MULTI_USER_FORMATS
from profiles.importers.records import ImportFormatError
from profiles.importing import import_listens, parser_options


class Command(BaseCommand):
    help = (
        "Import a listening-history file for a user. Streams the file in chunks of 1000 "
        "listens, each in its own transaction; re-running it after a crash finishes the "
        "job without doubling anything. Skipped lines are listed on stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True, help="Username to import into.")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument(
            "--file-user", help="lastfm-1k / hetrec: whose rows (default: the first row's)."
        )
        parser.add_argument(
            "--artists",
            type=Path,
            help="hetrec: artists.dat to name the artists (default: beside FILE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No such user: {options['user']}")
        if options["file_user"] and options["format"] not in MULTI_USER_FORMATS:
            raise CommandError("--file-user is only for lastfm-1k and hetrec.")
        if options["artists"] and options["format"] != "hetrec":
            raise CommandError("--artists is only for hetrec.")
        artists = options["artists"]
        if options["format"] == "hetrec" and artists is None:
            beside = path.with_name("artists.dat")
            artists = beside if beside.exists() else None
        parse_options = parser_options(file_user=options["file_user"], artists_path=artists)
        total = path.stat().st_size
        with (
            path.open("rb") as stream,
            tqdm(total=total, unit="B", unit_scale=True, desc=path.name) as bar,
        ):

            def progress(fraction: float, message: str) -> None:
                bar.update(round(fraction * total) - bar.n)
                bar.set_postfix_str(message)

            try:
                report = import_listens(
                    user=user,
                    format_name=options["format"],
                    stream=stream,
                    total_bytes=total,
                    options=parse_options,
                    progress=progress,
                )
            except ImportFormatError as exc:
                raise CommandError(str(exc)) from None
            bar.update(total - bar.n)
        for skipped in report.skipped:
            self.stderr.write(f"line {skipped['line']}: skipped: {skipped['reason']}")
        if report.skipped_count > len(report.skipped):
            self.stderr.write(f"... and {report.skipped_count - len(report.skipped)} more skipped")
        self.stdout.write(
            f"{report.accepted} listens imported, {report.duplicates} already stored, "
            f"{report.skipped_count} lines skipped, {report.other_user_rows} rows of other users."
        )
