"""Shared fixtures. Tests never touch the network: the hub is switched off before anything imports it."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.helpers import build_tiny_clip  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small randomly initialised CLIP saved in hub layout (mechanics tests, not semantics)."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_embedder(tiny_model_dir: Path):
    from imgsearch_core.embed import Embedder

    return Embedder(str(tiny_model_dir))


@pytest.fixture
def settings(tmp_path: Path):
    from imgsearch_core.config import Settings

    return Settings.from_env(store_dir=tmp_path / "store")


@pytest.fixture
def store(settings):
    from imgsearch_core.store import Store

    return Store(settings)
