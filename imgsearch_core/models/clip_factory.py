"""Build small CLIP models and CLIP-format tokenizers from scratch.

Why: no pretrained weights can be downloaded here, so the offline demo model and the tests build
`transformers.CLIPModel` directories themselves. They are saved in the exact layout of a hub CLIP so
that `SentenceTransformer(path)` (and therefore `embed.Embedder`) loads them like any other.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
# The same normalizer and pre-tokenizer as transformers' CLIPTokenizer, so a vocabulary trained here
# tokenizes identically once wrapped in CLIPTokenizer.
_CLIP_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def train_clip_tokenizer(texts: Iterable[str], vocab_size: int = 2000, max_length: int = 77) -> CLIPTokenizer:
    """Train a byte-level BPE vocabulary on `texts` and wrap it as a `CLIPTokenizer`.

    Byte-level BPE never produces unknown tokens: words the vocabulary lacks fall back to pieces.
    """
    bpe = Tokenizer(models.BPE(continuing_subword_prefix="", end_of_word_suffix="</w>", unk_token=EOS))
    bpe.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_CLIP_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        end_of_word_suffix="</w>",
        min_frequency=1,
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    spec = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in spec["merges"]]
    return CLIPTokenizer(vocab=_stable_ids(spec["vocab"]), merges=merges, model_max_length=max_length)


def _stable_ids(vocab: dict[str, int]) -> dict[str, int]:
    """The same tokens with ids in a fixed order: special tokens first, the rest sorted.

    Why: the trainer's tokens and merges are deterministic but its ids are not (hash order of the initial
    alphabet), and random ids would make a seeded training run irreproducible.
    """
    specials = [BOS, EOS]
    rest = sorted(token for token in vocab if token not in specials)
    return {token: i for i, token in enumerate(specials + rest)}


def build_clip(
    tokenizer: CLIPTokenizer,
    *,
    image_size: int = 64,
    patch_size: int = 8,
    vision_width: int = 96,
    vision_layers: int = 3,
    text_width: int = 96,
    text_layers: int = 2,
    heads: int = 4,
    projection_dim: int = 64,
    max_text_length: int = 32,
) -> tuple[CLIPModel, CLIPProcessor]:
    """A randomly initialised CLIP of the given size with a matching processor."""
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=text_width,
            intermediate_size=4 * text_width,
            num_hidden_layers=text_layers,
            num_attention_heads=heads,
            max_position_embeddings=max_text_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=vision_width,
            intermediate_size=4 * vision_width,
            num_hidden_layers=vision_layers,
            num_attention_heads=heads,
            image_size=image_size,
            patch_size=patch_size,
        ),
        projection_dim=projection_dim,
    )
    tokenizer.model_max_length = max_text_length
    return CLIPModel(config), clip_processor(tokenizer, image_size)


def clip_processor(tokenizer: CLIPTokenizer, image_size: int) -> CLIPProcessor:
    """The standard CLIP preprocessing (resize shortest edge, centre crop, CLIP mean/std) at `image_size`."""
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    return CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def save_clip(model: CLIPModel, processor: CLIPProcessor, path: str | Path) -> Path:
    """Save in the hub layout that `SentenceTransformer(path)` loads."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
