"""text_analysis per caption language: the tokens equal spaCy's own pipeline's, the lemma cache equals
spacy-lookups-data, and language detection on short captions."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from imgsearch_core.text import lemma_tables
from imgsearch_core.text import analysis as text_analysis
from imgsearch_core.text.languages import LANGUAGES, LanguageError, check_language, choice_from_settings, detect, detect_one
from imgsearch_core.text.analysis import SEARCHABLE_STOP_WORDS, analyze, analyze_one
from imgsearch_core.text.folding import fold
from tests.language_samples import CAPTIONS

ROOT = Path(__file__).resolve().parents[3]

# Sentences with what trips tokenizers: case, elision, hyphens, numbers, punctuation, inflections.
EXTRA: dict[str, list[str]] = {
    "en": ["The children's bikes were leaning against 3 walls, didn't they?", "Mice ran under the e-mail servers!"],
    "de": ["Die Häfen Hamburgs waren gestern überfüllt; 12 Schiffe lagen vor Anker.",
           "Kinder spielten mit den Hunden im Schnee - bei -5 Grad!"],
    "nl": ["De kinderen hebben gisteren in de parken gespeeld, zei de burgemeester.",
           "Zo'n 40 fietsers reden door Amsterdam-Noord."],
    "fr": ["L'équipe de France a gagné les matchs d'aujourd'hui : quelle soirée !",
           "Les enfants jouaient près des arbres, rue Saint-Denis."],
    "es": ["Los niños jugaban en las calles de Madrid, ¿verdad?", "Las mujeres vendieron 20 flores en el mercado."],
    "it": ["L'uomo camminava sulle strade di Roma, c'erano molti turisti.",
           "Le bambine hanno giocato con i cani nel parco."],
}


@pytest.fixture(scope="module")
def spacy_pipelines():
    """The documented reference: blank(lang) + lemmatizer in lookup mode initialised from spacy-lookups-data."""
    spacy = text_analysis.import_spacy()
    pipelines = {}
    for language in LANGUAGES:
        nlp = spacy.blank(language)
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
        pipelines[language] = nlp
    return pipelines


def spacy_tokens(nlp, text: str) -> list[str]:
    """spaCy's lemmas of the lower-cased text (for a form its table lacks: spaCy's lemma of the
    capitalised form, else the form; for a word without accents also the folded table's lemmas),
    lower-cased, without stop words (token or lemma) or punctuation, then folded."""
    keep = SEARCHABLE_STOP_WORDS.get(nlp.lang, frozenset())
    stops = nlp.Defaults.stop_words - keep
    table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
    folded_table = lemma_tables.load_folded_table(nlp.lang)
    out = []
    for token in nlp(text.lower()):
        if token.is_space or token.is_punct or (token.is_stop and token.text not in keep):
            continue
        capitalised = token.text[:1].upper() + token.text[1:]
        exact = None
        if token.text in table or capitalised in table:
            exact = token.lemma_ if token.text in table else nlp(capitalised)[0].lemma_
        accented = folded_table.get(token.text) if fold(token.text) == token.text else None
        if accented is None:
            candidates = [exact or token.text]
        else:  # typed without accents: also what its accented spellings mean
            candidates = ([exact] if exact else []) + accented.split(lemma_tables.FOLDED_SEPARATOR)
        kept = [c.lower() for c in candidates if c.lower() not in stops and any(ch.isalnum() for ch in c)]
        out.extend(dict.fromkeys(fold(lemma) for lemma in kept))  # one term per distinct folded lemma
    return out


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_analysis_matches_spacy_pipeline(spacy_pipelines, language):
    sentences = CAPTIONS[language] + EXTRA[language]
    expected = [spacy_tokens(spacy_pipelines[language], s) for s in sentences]
    assert analyze(sentences, language) == expected
    assert [analyze_one(s, language) for s in sentences] == expected
    assert sum(map(len, expected)) > 3 * len(sentences)  # the sentences are not mostly stop words


def test_each_language_lemmatises_and_drops_its_stop_words():
    assert analyze_one("Die Kinder spielten mit den Hunden in den häfen", "de") == ["kind", "spielen", "hund", "hafen"]
    assert analyze_one("Der Bürgermeister eröffnet die Brücke", "de") == ["burgermeister", "eroffnen", "brucke"]
    assert analyze_one("De kinderen speelden met de honden", "nl") == ["kinderen", "spelen", "hond"]
    assert analyze_one("Les enfants jouaient avec les chiens", "fr") == ["enfant", "jouer", "chien"]
    assert analyze_one("Los niños jugaban con los perros", "es") == ["nino", "jugar", "perro"]  # ñ folds to n
    assert analyze_one("I bambini giocavano con i cani", "it") == ["bambino", "giocare", "cane"]
    assert analyze_one("The children played with the dogs", "en") == ["child", "play", "dog"]
    # English keeps counts and places searchable; German drops what spaCy's list says
    assert analyze_one("two dogs behind", "en") == ["two", "dog", "behind"]


def test_unknown_language_is_refused():
    with pytest.raises(LanguageError, match="Unsupported caption language 'xx'"):
        analyze_one("text", "xx")
    assert check_language("de") == "de"


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_compact_lemma_table_equals_spacy_lookups_data(spacy_pipelines, language):
    spacy_table = spacy_pipelines[language].get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
    source = lemma_tables.read_source(language)
    table = lemma_tables.load_table(language)
    assert len(table) == len(source)
    for form in random.Random(language).sample(sorted(source), 2000) + ["zzxq-not-a-word", ""]:
        want = spacy_table.get(form, form)
        assert table.get(form, form) == (want if isinstance(want, str) else want[0])
        assert (table.get(form) is None) == (form not in spacy_table)


def test_lemma_cache_is_built_once_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv(lemma_tables.CACHE_ENV, str(tmp_path))
    path = lemma_tables.cache_path("en")
    assert path.parent == tmp_path and not path.exists()
    first = lemma_tables.load_table("en")
    assert path.exists()
    built = path.stat().st_mtime_ns
    assert lemma_tables.load_table("en").get("mice") == first.get("mice") == "mouse"
    assert first.get("zzxq") is None
    assert path.stat().st_mtime_ns == built  # read, not rebuilt
    path.write_bytes(b"not a zip")
    assert lemma_tables.load_table("en").get("children") == "child"
    assert path.stat().st_size > 1000


def test_loading_an_analyser_imports_neither_torch_nor_spacys_command_line(tmp_path):
    code = (
        "import sys\n"
        "from imgsearch_core.text.analysis import analyze_one\n"
        "assert analyze_one('Die Kinder spielten', 'de') == ['kind', 'spielen']\n"
        "assert 'torch' not in sys.modules and 'spacy.cli' not in sys.modules and 'typer' not in sys.modules\n"
        "import spacy, spacy.cli\n"
        "assert callable(spacy.cli.info) and callable(spacy.info)\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# ----- detection ---------------------------------------------------------------------------------
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_detection_on_short_captions(language):
    captions = CAPTIONS[language]
    right = sum(detect_one(c) == language for c in captions)
    prefixes = sum(detect_one(" ".join(c.split()[:5])) == language for c in captions)
    assert right >= len(captions) - 1
    assert prefixes >= len(captions) - 2
    found = detect(captions)
    assert found is not None and found.language == language and found.captions == len(captions)


def test_detection_takes_the_majority_and_ignores_empty_texts():
    mixed = CAPTIONS["de"][:10] + CAPTIONS["en"][:4] + ["", "   "]
    found = detect(mixed)
    assert found.language == "de" and found.captions == 14 and found.share >= 9 / 14
    assert detect(["", " "]) is None


def test_choice_from_settings():
    assert choice_from_settings({}).language == "en" and choice_from_settings({}).source is None
    choice = choice_from_settings({"setting_caption_language": "nl", "setting_caption_language_source": "detected"})
    assert (choice.language, choice.source, choice.label) == ("nl", "detected", "Dutch (detected)")
    assert choice_from_settings({"setting_caption_language": "xx"}).language == "en"
