"""A small real world for generation tests: a few corpus pieces and a tiny trained generator."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from artifacts.models import ModelArtifact
from catalog.models import Track

TINY_GENERATOR = {
    "embedding_dim": 8,
    "encoder_hidden": 32,
    "latent_dim": 64,
    "conductor_hidden": 32,
    "bar_embedding_dim": 32,
    "decoder_hidden": 48,
}


def train_tiny_generator(*options: str, config: dict[str, int] = TINY_GENERATOR) -> None:
    """One epoch of ``train_generator`` on the catalog, small batches, one thread."""
    quick = ("--epochs", "1", "--batch-size", "8", "--threads", "1")
    call_command("train_generator", *quick, "--config", json.dumps(config), *options)


@pytest.fixture(scope="module")
def tiny_world(django_db_setup, django_db_blocker):
    """Imports 8 real pieces and trains a one-epoch generator on them, once per module."""
    with django_db_blocker.unblock():
        call_command("import_corpus", "--collections", "bach,ryansMammoth", "--limit", "4")
        train_tiny_generator("--activate")
        yield ModelArtifact.objects.get(kind="generator", is_active=True)
        Track.objects.all().delete()
        ModelArtifact.objects.all().delete()
