"""Caption and query analysis for BM25 in a collection's language: spaCy's tokenizer, lookup lemmas,
lower case, no stop words or punctuation.

Why only spaCy's tokenizer and not a spaCy pipeline: the analysis needs a language's rule-based
tokenizer, its stop words and its lookup lemma table, nothing trained. Building `spacy.blank(lang)`
resolves a whole pipeline config, and `nlp.initialize()` loads the lemma table into a dict through
spaCy's entry points; here the tokenizer is built from the language's defaults exactly as spaCy's
`spacy.Tokenizer.v1` builds it, and lemmas come from imgsearch_core.text.lemma_tables (the same table,
compact and cached). The tokens equal those of blank(lang) + lemmatizer(mode="lookup") + the rules
below (tests/unit/text/test_text_analysis.py checks every language against that pipeline).

Texts are lower-cased before tokenising, so case never changes tokens or lemmas. A token's lemma is
the table's entry for it, or, when the table has none, the entry for its capitalised form (German
tables key nouns capitalised: "häfen" → "Häfen" → "Hafen"; English has "Africans" → "African"), or the
token itself; then lower-cased. A token is dropped when it or its lemma is one of the language's stop
words, when it is punctuation or space, or when its lemma has no letter or digit.
"""
from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

from imgsearch_core.text.languages import DEFAULT_LANGUAGE, check_language
from imgsearch_core.text.lemma_tables import LemmaTable, load_table
from imgsearch_core.text.plain_queries import QueryWords, load_words, plain_words, save_words

_BATCH_SIZE = 1000
_CACHE_LIMIT = 1_000_000  # normalised-token cache entries before it is cleared
# spaCy's English stop list includes counts and places ("two", "top", "behind"), which are exactly what
# people search pictures for; they stay searchable terms. Other languages keep spaCy's lists as they are.
SEARCHABLE_STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "one two three four five six seven eight nine ten eleven twelve fifteen twenty forty fifty sixty hundred "
        "top bottom front back side above below behind beside under over up down empty full first last".split()
    ),
}


def import_spacy() -> Any:
    """spaCy without what analysis never uses: thinc's torch import (10 s of a command-line search) and
    spaCy's command line (`spacy.cli`, typer and weasel: 0.4-0.8 s), which `spacy/__init__` imports
    only to re-export `spacy.info`. That one stays callable and imports the real command line when
    called. When torch or spaCy is loaded already, nothing is blocked."""
    if "spacy" in sys.modules:
        return sys.modules["spacy"]
    blocked = {"spacy.cli": types.ModuleType("spacy.cli"), "spacy.cli.info": types.ModuleType("spacy.cli.info")}
    blocked["spacy.cli.info"].info = _info  # type: ignore[attr-defined]
    if "torch" not in sys.modules:
        blocked["torch"] = None  # type: ignore[assignment] - `import torch` raises ImportError meanwhile
    sys.modules.update(blocked)
    try:
        import spacy
    finally:
        for name, stub in blocked.items():  # a later `import spacy.cli` (or torch) loads the real one
            if sys.modules.get(name, 0) is stub:
                del sys.modules[name]
    return spacy


def _info(*args: Any, **kwargs: Any) -> Any:
    from spacy.cli.info import info  # noqa: PLC0415

    return info(*args, **kwargs)


def _tokenizer(language: str) -> tuple[Any, frozenset[str]]:
    """spaCy's rule-based tokenizer of `language` (as spacy.Tokenizer.v1 makes it) and its stop words."""
    import_spacy()
    from spacy import util  # noqa: PLC0415
    from spacy.tokenizer import Tokenizer  # noqa: PLC0415
    from spacy.vocab import create_vocab  # noqa: PLC0415

    module = importlib.import_module(f"spacy.lang.{language}")  # what spacy.util.get_lang_class imports
    defaults = getattr(module, module.__all__[0]).Defaults
    prefixes, suffixes, infixes = defaults.prefixes, defaults.suffixes, defaults.infixes
    tokenizer = Tokenizer(
        create_vocab(language, defaults),
        rules=defaults.tokenizer_exceptions,
        prefix_search=util.compile_prefix_regex(prefixes).search if prefixes else None,
        suffix_search=util.compile_suffix_regex(suffixes).search if suffixes else None,
        infix_finditer=util.compile_infix_regex(infixes).finditer if infixes else None,
        token_match=defaults.token_match,
        url_match=defaults.url_match,
    )
    return tokenizer, frozenset(defaults.stop_words)


def searchable_stop_words(language: str, stop_words: frozenset[str]) -> frozenset[str]:
    return stop_words - SEARCHABLE_STOP_WORDS.get(language, frozenset())


def normalise(text: str, stop_words: frozenset[str], lemmas: LemmaTable) -> str | None:
    """The lemma of a lower-cased word token, or None for a stop word or a lemma without letters or digits."""
    if text in stop_words:
        return None
    lemma = lemmas.get(text)
    if lemma is None:
        lemma = lemmas.get(text[:1].upper() + text[1:], text)
    lemma = lemma.lower()
    if lemma in stop_words or not any(ch.isalnum() for ch in lemma):
        return None
    return lemma


class Analyzer:
    """One language's analysis; build it through `analyzer(language)` (one per process and language)."""

    def __init__(self, language: str) -> None:
        self.language = check_language(language)
        self._tokenizer, stop_words = _tokenizer(language)
        self._stop_words = searchable_stop_words(language, stop_words)
        save_words(language, QueryWords(stop_words, frozenset(self._tokenizer.rules or ())))
        self._lemmas: LemmaTable = load_table(language)
        self._normal: dict[str, str | None] = {}

    def _normalise(self, token: Any) -> str | None:
        """Lemma of a (lower-cased) token, or None for punctuation, spaces, symbols and stop words."""
        if token.is_space or token.is_punct:
            return None
        return normalise(token.text, self._stop_words, self._lemmas)

    def analyze(self, texts: list[str]) -> list[list[str]]:
        """Normalised tokens per text (see the module docstring)."""
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"analyze() expects str texts, got {type(text).__name__}")
        cache = self._normal
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        out: list[list[str]] = []
        # Only the tokenizer runs per token; lemma and stop-word rules are cached per token text.
        for doc in self._tokenizer.pipe((t.lower() for t in texts), batch_size=_BATCH_SIZE):
            tokens = []
            for token in doc:
                try:
                    lemma = cache[token.text]
                except KeyError:
                    lemma = cache[token.text] = self._normalise(token)
                if lemma is not None:
                    tokens.append(lemma)
            out.append(tokens)
        return out


_analyzers: dict[str, Analyzer] = {}
_lock = threading.Lock()


def analyzer(language: str = DEFAULT_LANGUAGE) -> Analyzer:
    """The process's analyser of `language`, built on first use."""
    found = _analyzers.get(language)
    if found is None:
        with _lock:
            found = _analyzers.get(language)
            if found is None:
                found = _analyzers[language] = Analyzer(language)
    return found


def analyze(texts: Sequence[str], language: str = DEFAULT_LANGUAGE) -> list[list[str]]:
    """Normalised tokens per text in `language` (a code of imgsearch_core.text.languages.LANGUAGES)."""
    if isinstance(texts, str):
        raise TypeError("analyze() takes a sequence of texts; use analyze_one() for a single text")
    texts = list(texts)
    return analyzer(language).analyze(texts) if texts else []


def analyze_one(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """analyze() for one text; a plain query in a process without spaCy yet skips it (plain_queries.py)."""
    if language not in _analyzers and isinstance(text, str):
        tokens = _plain_tokens(text, check_language(language))
        if tokens is not None:
            return tokens
    return analyze([text], language)[0]


def _plain_tokens(text: str, language: str) -> list[str] | None:
    words = load_words(language)
    plain = plain_words(text, words.exceptions) if words is not None else None
    if plain is None:
        return None
    stop_words, lemmas = searchable_stop_words(language, words.stop_words), load_table(language)
    return [lemma for lemma in (normalise(word, stop_words, lemmas) for word in plain) if lemma is not None]
