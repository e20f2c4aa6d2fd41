"""Settings with defaults that environment variables override.

Why one place: the app, the command line and the tests must agree on where the store lives, which
Chroma server (if any) to use and which limits protect the machine from hostile files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "clip-ViT-B-32"
BUNDLED_MODELS_DIR = PROJECT_ROOT / "data" / "models"
DEMO_MODEL = "imgsearch-mini"
DEMO_CAPTIONER = "imgsearch-captioner"  # the bundled machine-caption model (models.captioner)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_paths(name: str, default: tuple[Path, ...]) -> tuple[Path, ...]:
    """A list of folders separated like PATH (':' on Linux); unset or empty keeps the default."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip())


@dataclass(frozen=True)
class Settings:
    store_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "data" / "store")
    chroma_host: str | None = None
    chroma_port: int = 8000
    default_model: str = DEFAULT_MODEL
    max_pixels: int = 80_000_000
    max_file_bytes: int = 64 * 2**20
    embed_batch_size: int = 32
    decode_threads: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))  # ingest's decode pool
    candidate_depth: int = 100
    max_k: int = 100
    models_dir: Path = BUNDLED_MODELS_DIR  # where fine-tuned model versions are written
    media_dir: Path | None = None  # media copies; default <store>/media; a shared mount for replicas
    # Sent to an authenticated Chroma server (IMGSEARCH_CHROMA_TOKEN); kept out of repr, so no log, cache key or
    # traceback that prints the settings shows it.
    chroma_token: str | None = field(default=None, repr=False)
    # Input limits: each is named in the message of the input that hits it (README, "Limits").
    max_sidecar_bytes: int = 1 * 2**20  # one sidecar .txt caption
    max_caption_file_bytes: int = 64 * 2**20  # one caption CSV/TSV/JSON/JSONL file
    max_field_chars: int = 4_000  # one cell or value of a caption file
    max_zip_entries: int = 100_000  # entries in one zip
    max_zip_total_bytes: int = 16 * 2**30  # sum of a zip's declared uncompressed sizes
    max_upload_files: int = 1_000  # files in one Admin upload
    max_upload_bytes: int = 2 * 2**30  # bytes in one Admin upload, all files together
    max_relevance_bytes: int = 16 * 2**20  # a relevance CSV uploaded on the Evaluate page
    # Folders the Admin page may import from ("Folder on the server"); the command line is not limited.
    import_roots: tuple[Path, ...] = (PROJECT_ROOT / "data" / "import",)

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults, then IMGSEARCH_* environment variables, then explicit overrides (e.g. --store)."""
        env = os.environ
        settings = cls(
            store_dir=Path(env.get("IMGSEARCH_STORE") or cls().store_dir),
            chroma_host=env.get("IMGSEARCH_CHROMA_HOST") or None,
            chroma_port=_env_int("IMGSEARCH_CHROMA_PORT", 8000),
            default_model=env.get("IMGSEARCH_MODEL") or DEFAULT_MODEL,
            max_pixels=_env_int("IMGSEARCH_MAX_PIXELS", cls.max_pixels),
            max_file_bytes=_env_int("IMGSEARCH_MAX_FILE_BYTES", cls.max_file_bytes),
            embed_batch_size=_env_int("IMGSEARCH_BATCH_SIZE", cls.embed_batch_size),
            decode_threads=_env_int("IMGSEARCH_DECODE_THREADS", min(4, os.cpu_count() or 1)),
            models_dir=Path(env.get("IMGSEARCH_MODELS_DIR") or BUNDLED_MODELS_DIR),
            media_dir=Path(env["IMGSEARCH_MEDIA_DIR"]) if env.get("IMGSEARCH_MEDIA_DIR") else None,
            chroma_token=env.get("IMGSEARCH_CHROMA_TOKEN") or None,
            max_sidecar_bytes=_env_int("IMGSEARCH_MAX_SIDECAR_BYTES", cls.max_sidecar_bytes),
            max_caption_file_bytes=_env_int("IMGSEARCH_MAX_CAPTION_FILE_BYTES", cls.max_caption_file_bytes),
            max_field_chars=_env_int("IMGSEARCH_MAX_FIELD_CHARS", cls.max_field_chars),
            max_zip_entries=_env_int("IMGSEARCH_MAX_ZIP_ENTRIES", cls.max_zip_entries),
            max_zip_total_bytes=_env_int("IMGSEARCH_MAX_ZIP_TOTAL_BYTES", cls.max_zip_total_bytes),
            max_upload_files=_env_int("IMGSEARCH_MAX_UPLOAD_FILES", cls.max_upload_files),
            max_upload_bytes=_env_int("IMGSEARCH_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            max_relevance_bytes=_env_int("IMGSEARCH_MAX_RELEVANCE_BYTES", cls.max_relevance_bytes),
            import_roots=_env_paths("IMGSEARCH_IMPORT_ROOTS", cls().import_roots),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "store_dir" in clean:
            clean["store_dir"] = Path(clean["store_dir"])  # type: ignore[arg-type]
        return replace(settings, **clean)  # type: ignore[arg-type]
