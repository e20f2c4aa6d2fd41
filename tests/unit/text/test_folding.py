"""Accent- and case-insensitive analysis: the fold itself, the folded lemma table against spaCy's own table,
unaccented words in every caption language, and BM25 over folded tokens equal to rank_bm25's BM25Okapi."""
from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from imgsearch_core.text import lemma_tables
from imgsearch_core.text.analysis import analyze, analyze_one
from imgsearch_core.text.bm25 import BM25Index
from imgsearch_core.text.folding import fold
from imgsearch_core.text.languages import LANGUAGES


@pytest.mark.parametrize(("text", "folded"), [
    ("Zürich", "zurich"), ("ÉLÈVES", "eleves"), ("Straße", "strasse"), ("STRASSE", "strasse"), ("Æble", "aeble"),
    ("Œuvre", "oeuvre"), ("Øresund", "oresund"), ("Łódź", "lodz"), ("Ðakovo", "dakovo"), ("Þór", "thor"),
    ("ﬁsh", "fish"), ("Ｚürich", "zurich"), ("Zu\u0308rich", "zurich"), ("São Paulo", "sao paulo"),
    ("Ñandú", "nandu"), ("Çà", "ca"), ("harbour", "harbour"),
])
def test_fold(text, folded):
    assert fold(text) == folded


# One caption word and the unaccented, differently cased ways an editor types it, per language.
TYPED: dict[str, list[tuple[str, list[str]]]] = {
    "en": [("Zürich tram", ["ZURICH", "zurich"]), ("a café in São Paulo", ["cafe", "Sao Paulo"])],
    "de": [("Die Häfen von Zürich", ["hafen", "zurich", "ZÜRICH"]), ("Straße in Köln", ["strasse", "koln"]),
           ("Der Bürgermeister eröffnet die Brücke", ["burgermeister", "brucke"])],
    "nl": [("De geïsoleerde boerderij", ["geisoleerde"]), ("Één café", ["cafe"])],
    "fr": [("Les élèves de l'école", ["eleves", "eleve", "Élève", "ecole"]), ("Une forêt près de Besançon", ["foret", "besancon"])],
    "es": [("Los niños en la montaña", ["ninos", "nino", "montana"]), ("El árbol de Málaga", ["arbol", "malaga"])],
    "it": [("L'università di Forlì", ["universita", "forli"]), ("La libertà e la qualità", ["liberta", "qualita"])],
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_unaccented_queries_find_accented_captions(language):
    for caption, queries in TYPED[language]:
        indexed = set(analyze([caption], language)[0])
        for query in queries:
            tokens = analyze_one(query, language)
            assert tokens and set(tokens) & indexed, (language, caption, query, tokens, indexed)
            assert analyze([query], language)[0] == tokens  # the plain-query path and spaCy agree


def test_an_unaccented_word_means_each_of_its_accented_spellings():
    assert set(analyze_one("eleves", "fr")) == {"eleve", "elever"}  # élèves (pupils) or élevés (raised)
    assert analyze_one("élèves", "fr") == ["eleve"]
    assert set(analyze_one("montana", "es")) == {"montano", "montana"}  # the table's own word, and montaña
    assert analyze_one("montaña", "es") == ["montana"]
    assert set(analyze_one("schlagen", "de")) == {"schlagen", "schlag"}  # the verb, and Schlägen
    assert analyze_one("Ware", "de") == ["ware"]  # "wäre" is a stop word; goods are not
    assert analyze_one("für", "de") == []


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_folded_table_holds_spacys_lemma_of_every_accented_form(language):
    """For a sample of the accented forms of spaCy's table, the folded table gives their lemma for the
    unaccented word, and the word itself where it is a lemma the table has no key for."""
    source = lemma_tables.read_source(language)
    lemmas = {fold(v if isinstance(v, str) else v[0]) for v in source.values()}
    folded = lemma_tables.load_folded_table(language)
    accented = sorted(form for form in source if fold(form) != form.lower())
    assert accented
    for form in random.Random(language).sample(accented, min(500, len(accented))):
        plain, value = fold(form), source[form]
        meanings = folded.get(plain).split(lemma_tables.FOLDED_SEPARATOR)
        assert (value if isinstance(value, str) else value[0]) in meanings, form
        keyless = plain not in source and plain[:1].upper() + plain[1:] not in source
        assert (plain in meanings) == (plain in lemmas and keyless) or plain in source.values(), form
    assert folded.get("zzxq") is None


CAPTIONS = [
    "Tram in Zürich at night", "zurich station", "ZÜRICH skyline", "A café in Zurich", "Straße und Strasse",
    "Les élèves de l'école", "les eleves", "Crème brûlée", "creme brulee and more creme", "", "Łódź", "lodz lodz",
]
QUERIES = ["zurich", "Zürich café", "strasse", "eleves", "creme brulee", "LODZ", "nothing here"]


@pytest.mark.parametrize("query", QUERIES)
def test_bm25_over_folded_tokens_equals_rank_bm25(query):
    token_lists = analyze(CAPTIONS, "fr")
    assert any(t.isascii() for tokens in token_lists for t in tokens)
    assert all(t.isascii() for tokens in token_lists for t in tokens)  # every term folded
    ids = [f"c{i}" for i in range(len(CAPTIONS))]
    index = BM25Index.build(ids, token_lists, "fr")
    tokens = analyze_one(query, "fr")
    np.testing.assert_allclose(index.scores(tokens), BM25Okapi(token_lists).get_scores(tokens), rtol=1e-12, atol=1e-12)


def test_zurich_finds_every_spelling():
    captions = ["Tram in Zürich", "zurich station", "ZÜRICH skyline", "Bern station"]
    index = BM25Index.build(["a", "b", "c", "d"], analyze(captions))
    for query in ("zurich", "Zürich", "ZURICH", "zürich"):
        assert sorted(i for i, _ in index.top(analyze_one(query), 10)) == ["a", "b", "c"], query
