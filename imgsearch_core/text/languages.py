"""Caption languages: the supported ones, detection, and the choice a collection's settings record.

Why per collection: an archive's captions are written in one newsroom language, and lemmas and stop
words only work in the language of the text (German "Häfen" → "Hafen" means nothing to English
rules). The language is set by an admin, or detected from the captions once the collection has any,
and kept in the collection's settings, so every process and replica analyses with the same one (the
policy that reads and records it for a collection is store/language_policy.py; this module knows no store).

Detection uses py3langid (langid.py's naive Bayes model, shipped inside the wheel, restricted to the
supported languages). It was chosen over counting spaCy's stop words because captions are short: on
the 15 fixture captions per language in tests/language_samples.py it is right on 90/90 whole captions
and 90/90 five-word prefixes, the stop-word count on 84/90 and 67/90 (Italian 7/15).
A collection's language is the majority vote over up to DETECT_SAMPLE captions.
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "German",
    "nl": "Dutch",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
}
DEFAULT_LANGUAGE = "en"
LANGUAGE_SETTING = "caption_language"  # Collection.set_setting key: the language code
SOURCE_SETTING = "caption_language_source"  # "set" by an admin or "detected" from the captions
SET, DETECTED = "set", "detected"
DETECT_SAMPLE = 200  # captions read for a detection (the first ones in the collection's order)

_identifier: Any = None
_identifier_lock = threading.Lock()


class LanguageError(ValueError):
    """An unsupported language code."""


def check_language(code: str) -> str:
    """The code itself when supported, else LanguageError naming the supported ones."""
    if code not in LANGUAGES:
        supported = ", ".join(f"{c} ({n})" for c, n in LANGUAGES.items())
        raise LanguageError(f"Unsupported caption language {code!r}: use one of {supported}.")
    return code


@dataclass(frozen=True)
class Detection:
    """A detected language with the share of captions that voted for it."""

    language: str
    share: float
    captions: int


def _classifier() -> Any:
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier  # noqa: PLC0415 - detection is rare

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages(list(LANGUAGES))
                _identifier = identifier
    return _identifier


def detect_one(text: str) -> str:
    """The most likely supported language of one text."""
    return str(_classifier().classify(text)[0])


def detect(texts: Sequence[str]) -> Detection | None:
    """The majority language of the non-empty texts (ties: the order of LANGUAGES); None without text."""
    texts = [t for t in texts if t.strip()]
    if not texts:
        return None
    votes = Counter(detect_one(t) for t in texts)
    best = max(LANGUAGES, key=lambda code: votes[code])  # max keeps the first of equal counts
    return Detection(best, votes[best] / len(texts), len(texts))


@dataclass(frozen=True)
class LanguageChoice:
    """A collection's caption language and where it came from (SET, DETECTED, or None: the default)."""

    language: str
    source: str | None

    @property
    def label(self) -> str:
        name = LANGUAGES[self.language]
        return {SET: f"{name} (set)", DETECTED: f"{name} (detected)"}.get(self.source or "", f"{name} (default)")


def choice_from_settings(settings: dict[str, Any]) -> LanguageChoice:
    """The language recorded in Collection.settings() (keys with their 'setting_' prefix)."""
    code = settings.get(f"setting_{LANGUAGE_SETTING}")
    if code not in LANGUAGES:
        return LanguageChoice(DEFAULT_LANGUAGE, None)
    return LanguageChoice(str(code), str(settings.get(f"setting_{SOURCE_SETTING}", SET)))
