"""Random-weight copies of the real architectures behind the multilingual text tower, built locally.

Why: `clip-ViT-B-32-multilingual-v1` cannot be downloaded here, yet its loading, shapes, tokenisation of
non-English text and the pinning rules must run on the real architecture: distilbert-base-multilingual-cased
(vocabulary 119,547, width 768, 6 layers, 12 heads, feed-forward 3,072) with mean pooling and a Dense
768 -> 512 layer without bias, saved as a sentence-transformers model. The image side is a random CLIP of
the ViT-B/32 architecture. The WordPiece vocabulary is trained here on a few sentences in several scripts
and padded with unused tokens to the real size, so every embedding row is addressable as in the real model.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

MULTILINGUAL_VOCAB = 119_547
TOWER_CORPUS = [
    "a red boat in the harbour at night",
    "ein rotes Boot im Hafen bei Nacht, Straßenbahn über die Brücke",
    "un bateau rouge dans le port la nuit, l'été à Marseille",
    "een rode boot in de haven bij nacht",
    "una barca roja en el puerto de noche",
    "夜晚港口里的一艘红色小船",
    "東京の夜の港",
]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DENSE_DIR = "2_Dense"


def wordpiece_tokenizer(vocab_size: int = MULTILINGUAL_VOCAB):
    """A cased multilingual BERT WordPiece tokenizer (CJK characters split, accents kept) as a
    `DistilBertTokenizerFast` of exactly `vocab_size` tokens."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import DistilBertTokenizerFast

    def make(vocab: dict[str, int] | None) -> Tokenizer:
        tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
        tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                          strip_accents=False, lowercase=False)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece(prefix="##")
        return tokenizer

    trained = make(None)
    trained.train_from_iterator(TOWER_CORPUS, trainers.WordPieceTrainer(
        vocab_size=2_000, special_tokens=SPECIALS, min_frequency=1, show_progress=False))
    learned = sorted(trained.get_vocab(), key=trained.get_vocab().get)
    padding = [f"[unused{i}]" for i in range(vocab_size - len(learned))]
    tokenizer = make({token: i for i, token in enumerate(learned + padding)})
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[(t, learned.index(t)) for t in ("[CLS]", "[SEP]")],
    )
    return DistilBertTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   do_lower_case=False, model_max_length=512)


def build_multilingual_tower(directory: Path, *, out_dim: int = 512, seed: int = 0) -> Path:
    """The multilingual tower's architecture with random weights, saved as a sentence-transformers model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(seed)
    tokenizer = wordpiece_tokenizer()
    config = DistilBertConfig(vocab_size=MULTILINGUAL_VOCAB, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                              max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    hf_dir = directory.parent / f".{directory.name}-hf"
    DistilBertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=128)
    dense = Dense(768, out_dim, bias=False, activation_function=None)
    SentenceTransformer(modules=[transformer, Pooling(768, "mean"), dense], device="cpu").save(str(directory))
    shutil.rmtree(hf_dir)
    return directory


def tower_variant(source: Path, directory: Path, *, out_dim: int | None = None, seed: int = 1) -> Path:
    """A tower sharing `source`'s transformer files (hard links, no 540 MB copy) with its own Dense layer:
    new random weights of the same size (`out_dim` None: "the weights changed") or another output size.
    It starts undeclared (no alignment file), and rewriting its Dense layer never touches `source`."""
    from sentence_transformers.sentence_transformer.modules import Dense

    from imgsearch_core.models.text_towers import DECLARATION

    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if relative.parts[0] in (DENSE_DIR, DECLARATION) or relative.parts[0].startswith("."):
            continue
        target = directory / relative
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    old = Dense.load(str(source / DENSE_DIR))
    return write_dense(directory, old.in_features, out_dim or old.out_features, seed)


def write_dense(tower_dir: Path, in_features: int, out_features: int, seed: int) -> Path:
    """(Re)write the tower's Dense layer with seeded random weights: a tower whose weights changed."""
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense

    torch.manual_seed(seed)
    shutil.rmtree(tower_dir / DENSE_DIR, ignore_errors=True)
    (tower_dir / DENSE_DIR).mkdir(parents=True)
    Dense(in_features, out_features, bias=False, activation_function=None).save(str(tower_dir / DENSE_DIR))
    return tower_dir


def build_vitb32(directory: Path, seed: int = 1234) -> Path:
    """A seeded random CLIP of the ViT-B/32 architecture (224 px, patch 32, 512-d), saved in hub layout."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    from imgsearch_core.models.clip_factory import clip_processor, save_clip, train_clip_tokenizer
    from tests.helpers import CAPTION_WORDS

    torch.manual_seed(seed)
    config = CLIPConfig()  # the defaults are the ViT-B/32 architecture: 224 px, patch 32, 512-d projection
    assert (config.vision_config.patch_size, config.vision_config.image_size, config.projection_dim) == (32, 224, 512)
    tokenizer = train_clip_tokenizer([" ".join(CAPTION_WORDS)] * 3 + ["a photo of the sea"], vocab_size=300,
                                     max_length=77)
    return save_clip(CLIPModel(config).eval(), clip_processor(tokenizer, 224), directory)


def declared_tower(directory: Path, vitb32_dir: Path) -> Path:
    """The tower, declared as trained into clip-ViT-B-32 with the random ViT-B/32 as a local copy of it."""
    from imgsearch_core.models.text_towers import declare_alignment

    start = time.perf_counter()
    build_multilingual_tower(directory)
    declare_alignment(directory, "sentence-transformers/clip-ViT-B-32", [vitb32_dir])
    print(f"\nmultilingual tower built in {time.perf_counter() - start:.1f} s")
    return directory


def private_copy(source: Path, directory: Path) -> Path:
    """A copy of a model folder (its exports included) for a test that changes it: files of 1 MB and more are
    hard links (never written in place: weights and graphs are replaced or unlinked), smaller ones (manifests,
    declarations, Dense layers, caches) real copies, so no change made in the copy reaches the shared source."""
    def link_or_copy(src: str, dst: str) -> None:
        if os.path.getsize(src) >= 1 << 20:
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(source, directory, copy_function=link_or_copy, ignore=shutil.ignore_patterns("*.lock"))
    return directory


# ----- pytest fixtures: the shared builds are session-scoped in tests/conftest.py ------------------------------
MULTILINGUAL = ["ein rotes Boot im Hafen bei Nacht", "un bateau rouge dans le port la nuit",
                "夜晚港口里的一艘红色小船", "a red boat in the harbour at night"]


@pytest.fixture(scope="module")
def vitb_store(tmp_path_factory, image_embedder):
    """A store with one collection of 12 images embedded by the ViT-B/32 (per module: the tests select towers
    and backends on it)."""
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store
    from tests.helpers import write_images

    root = tmp_path_factory.mktemp("tower-store")
    store = Store(Settings.from_env(store_dir=root / "store"))
    items, _ = collect(write_images(root / "photos", 12)[0].parent)
    assert ingest(store, "archive", image_embedder, items).added == 12
    return store
