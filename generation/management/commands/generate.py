from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework import serializers

from catalog.midi.style_space import STYLES, split_vector
from generation.api.serializers import GenerationCreateSerializer
from generation.conditions import build_condition
from generation.generator import GeneratorUnavailable, generator_from
from generation.ml.sampling import DEFAULT_TEMPERATURE, generate
from generation.selectors import style_prototypes


class GenerateOptions(GenerationCreateSerializer):
    """The API's bounds for one request, but a command may write more files at once."""

    count = serializers.IntegerField(min_value=1, max_value=1000)
    variation_of = None


class Command(BaseCommand):
    help = "Write N generated .mid files in a style (or a mix of styles) to a folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--style", choices=STYLES)
        parser.add_argument("--style-mix", default=None, help='JSON, e.g. {"fiddle": 2, "folk": 1}')
        parser.add_argument("--count", type=int, default=4)
        parser.add_argument("--bars", type=int, default=16)
        parser.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
        parser.add_argument("--tempo-bpm", type=float, default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--checkpoint", type=Path, default=None, help="default: active model")

    def handle(self, *args: Any, **options: Any) -> None:
        request = self._validated(options)
        mix = request["style_mix"]
        prototypes = style_prototypes()
        dominant = max(mix, key=mix.get)
        condition = build_condition(
            taste=prototypes[dominant], style_mix=mix, tempo_bpm=request.get("tempo_bpm")
        )
        try:
            generator = generator_from(options["checkpoint"])
        except GeneratorUnavailable as exc:
            raise CommandError(f"no generator to sample from: {exc}") from exc
        try:
            options["out"].mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--out {options['out']}: {exc}") from exc
        midis = generate(
            generator.model,
            condition,
            request["bars"],
            request["count"],
            request["temperature"],
            request["seed"],
        )
        for number, midi in enumerate(midis, start=1):
            path = options["out"] / f"{dominant}-seed{request['seed']}-{number:02d}.mid"
            midi.write(str(path))
            self.stdout.write(f"wrote {path}")
        weights, _ = split_vector(condition)
        self.stdout.write(
            f"{len(midis)} pieces of {request['bars']} bars by {generator.version}, "
            f"styles {dict(zip(STYLES, weights.round(3).tolist(), strict=True))}"
        )

    def _validated(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options checked as the API checks a request; every bad one named at once."""
        data = {
            name: options[name]
            for name in ("count", "bars", "temperature", "seed", "tempo_bpm")
            if options[name] is not None
        }
        data["style_mix"] = self._style_mix(options)
        checked = GenerateOptions(data=data)
        if not checked.is_valid():
            problems = "; ".join(
                f"--{field.replace('_', '-')}: {' '.join(map(str, messages))}"
                for field, messages in checked.errors.items()
            )
            raise CommandError(problems)
        return dict(checked.validated_data)

    @staticmethod
    def _style_mix(options: dict[str, Any]) -> object:
        if options["style_mix"]:
            try:
                return json.loads(options["style_mix"])
            except json.JSONDecodeError as exc:
                raise CommandError(f"--style-mix is not JSON: {exc}") from exc
        if not options["style"]:
            raise CommandError("give --style or --style-mix")
        return {options["style"]: 1.0}
