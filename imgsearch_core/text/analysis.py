"""Caption and query analysis for BM25 in a collection's language: spaCy's tokenizer, lookup lemmas,
lower case, no stop words or punctuation.

Why only spaCy's tokenizer and not a spaCy pipeline: the analysis needs a language's rule-based
tokenizer, its stop words and its lookup lemma table, nothing trained. Building `spacy.blank(lang)`
resolves a whole pipeline config, and `nlp.initialize()` loads the lemma table into a dict through
spaCy's entry points; here the tokenizer is built from the language's defaults exactly as spaCy's
`spacy.Tokenizer.v1` builds it, and lemmas come from imgsearch_core.text.lemma_tables (the same table,
compact and cached). The tokens equal those of blank(lang) + lemmatizer(mode="lookup") + the rules
below (tests/unit/text/test_text_analysis.py checks every language against that pipeline).

Texts are NFC-normalised and lower-cased before tokenising, so case never changes tokens or lemmas. A
token's lemma is the table's entry for it, or, when the table has none, the entry for its capitalised form
(German tables key nouns capitalised: "häfen" → "Häfen" → "Hafen"; English has "Africans" → "African"), or
the token itself. A word typed without accents also gets the lemmas of its accented spellings (the folded
table, lemma_tables.load_folded_table: "eleves" → élève and élever; "montana" → montano and montaña), and
without an entry of its own only those. Lemmas that are stop words or have no letter or digit are dropped,
as is a token that is a stop word itself, punctuation or space. Every lemma is then lower-cased and folded
(imgsearch_core.text.folding: "Zürich" → "zurich"), on captions and queries alike, so an unaccented word
shares a term with each accented spelling of it and BM25 matches regardless of accents and case.
ANALYSIS_VERSION names these rules: an index saved with another one is rebuilt (text/bm25.py).
"""
from __future__ import annotations

import importlib
import sys
import threading
import types
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from imgsearch_core.text.folding import FOLD_VERSION, fold
from imgsearch_core.text.languages import DEFAULT_LANGUAGE, check_language
from imgsearch_core.text.lemma_tables import FOLDED_SEPARATOR, LemmaTable, load_folded_table, load_table
from imgsearch_core.text.plain_queries import QueryWords, load_words, plain_words, save_words

ANALYSIS_VERSION = 1 + FOLD_VERSION  # 1: unfolded tokens; 2: folded (accent- and case-insensitive) tokens
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


class Lemmas:
    """A language's lemma table and its folded twin (what `normalise` looks words up in)."""

    def __init__(self, language: str) -> None:
        self.exact: LemmaTable = load_table(language)
        self.folded: LemmaTable = load_folded_table(language)


@lru_cache(maxsize=None)
def lemmas_of(language: str) -> Lemmas:
    """The process's tables of `language`, read from disk once: a plain query looked them up per query
    (two .npz reads, 5-20 ms each time)."""
    return Lemmas(language)


def normalise(text: str, stop_words: frozenset[str], lemmas: Lemmas) -> tuple[str, ...]:
    """The folded lemmas of a lower-cased word token (usually one; none for a stop word or a lemma without
    letters or digits; see the module docstring)."""
    if text in stop_words:
        return ()
    lemma = lemmas.exact.get(text)
    if lemma is None:
        lemma = lemmas.exact.get(text[:1].upper() + text[1:])
    accented = lemmas.folded.get(text) if fold(text) == text else None  # what it means with its accents
    if accented is None:
        return _kept((text if lemma is None else lemma,), stop_words)
    return _kept(([] if lemma is None else [lemma]) + accented.split(FOLDED_SEPARATOR), stop_words)


def _kept(candidates: Sequence[str], stop_words: frozenset[str]) -> tuple[str, ...]:
    out: list[str] = []
    for candidate in candidates:
        lemma = candidate.lower()
        if lemma in stop_words or not any(ch.isalnum() for ch in lemma):
            continue
        folded = fold(lemma)
        if folded not in out:
            out.append(folded)
    return tuple(out)


class Analyzer:
    """One language's analysis; build it through `analyzer(language)` (one per process and language)."""

    def __init__(self, language: str) -> None:
        self.language = check_language(language)
        self._tokenizer, stop_words = _tokenizer(language)
        self._stop_words = searchable_stop_words(language, stop_words)
        save_words(language, QueryWords(stop_words, frozenset(self._tokenizer.rules or ())))
        self._lemmas = lemmas_of(language)
        self._normal: dict[str, tuple[str, ...]] = {}

    def _normalise(self, token: Any) -> tuple[str, ...]:
        """Folded lemmas of a (lower-cased) token; none for punctuation, spaces, symbols and stop words."""
        if token.is_space or token.is_punct:
            return ()
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
        lowered = (unicodedata.normalize("NFC", t).lower() for t in texts)
        for doc in self._tokenizer.pipe(lowered, batch_size=_BATCH_SIZE):
            tokens: list[str] = []
            for token in doc:
                try:
                    lemmas = cache[token.text]
                except KeyError:
                    lemmas = cache[token.text] = self._normalise(token)
                tokens.extend(lemmas)
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
    plain = plain_words(unicodedata.normalize("NFC", text), words.exceptions) if words is not None else None
    if plain is None:
        return None
    stop_words, lemmas = searchable_stop_words(language, words.stop_words), lemmas_of(language)
    return [lemma for word in plain for lemma in normalise(word, stop_words, lemmas)]
