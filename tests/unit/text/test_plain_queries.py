"""Plain queries without spaCy give exactly the analyser's tokens, in every language; anything else is left to spaCy."""
import random
import subprocess
import sys

import pytest

from imgsearch_core.text import plain_queries
from imgsearch_core.text import analysis as text_analysis
from imgsearch_core.text.languages import LANGUAGES
from imgsearch_core.text.lemma_tables import load_table
from imgsearch_core.text.plain_queries import load_words, plain_words
from imgsearch_core.text.analysis import analyzer
from tests.language_samples import CAPTIONS


def sample_words(language: str, rng: random.Random) -> list[str]:
    """Lemma-table forms, stop words and caption words: letters only, lower case, as queries are typed."""
    table = load_table(language)
    forms = [table[rng.randrange(len(table))].decode("utf-8", "surrogatepass").lower() for _ in range(1500)]
    words = load_words(language)
    captions = [w.lower() for text in CAPTIONS[language] for w in text.split()]
    return sorted({w for w in forms + sorted(words.stop_words) + captions if w.isalpha()})


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_plain_queries_equal_the_spacy_analysis(language):
    spacy_side = analyzer(language)  # builds the analyser, which writes the language's query words
    words = load_words(language)
    assert words is not None and words.stop_words and words.exceptions
    rng = random.Random(language)
    vocabulary = [w for w in sample_words(language, rng) if w not in words.exceptions]
    queries = vocabulary + [" ".join(rng.sample(vocabulary, rng.randint(2, 5))) for _ in range(400)]
    queries += ["  " + " ".join(w.upper() for w in rng.sample(vocabulary, 3)) + " "]  # case and extra spaces
    expected = spacy_side.analyze(queries)  # one batch: the same analysis, without a pipeline call per query
    for query, tokens in zip(queries, expected, strict=True):
        assert text_analysis._plain_tokens(query, language) == tokens, query


@pytest.mark.parametrize("query", ["red boat, harbour", "boats 2", "a dog's bone", "red\tboat", "e-mail", "cannot"])
def test_anything_but_plain_words_is_left_to_spacy(query):
    analyzer("en")
    assert plain_words(query, load_words("en").exceptions) is None
    assert text_analysis._plain_tokens(query, "en") is None


def test_a_plain_query_in_a_fresh_process_imports_no_spacy():
    analyzer("en")  # the words file exists on this machine from now on
    code = ("import sys; from imgsearch_core.text.analysis import analyze_one; "
            "print(analyze_one('Red boats near the harbours')); print('spacy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tokens, spacy_loaded = done.stdout.strip().splitlines()
    assert tokens == str(analyzer("en").analyze(["Red boats near the harbours"])[0]) and spacy_loaded == "False"


def test_without_the_words_file_spacy_analyses_the_query(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_LEMMA_CACHE", str(tmp_path))
    load_words.cache_clear()
    try:
        assert plain_queries.load_words("en") is None
        assert text_analysis._plain_tokens("red boat", "en") is None
    finally:
        load_words.cache_clear()
