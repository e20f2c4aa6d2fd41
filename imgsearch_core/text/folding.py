"""Accent and case folding of BM25 terms: "Zürich" and "zurich", "élèves" and "eleves" are one term.

Why fold: editors type names and words without their accents ("zurich", "sao paulo", "eleves") and expect
the captions that spell them properly; a caption typed without accents should be found by the accented
query too. Both the index and the query side fold the same way, after the lemma lookup (the lemma tables
key accented forms: "élèves" → "élève" only works before folding), so BM25 stays plain Okapi BM25 over
the folded terms.

One fold serves every caption language (en, de, nl, fr, es, it): their accents are all marks on Latin
letters, and a caption in one names places and people of the others ("Zürich" in an English caption).
The fold is case folding, compatibility decomposition (NFKD: "ﬁ" → "fi", full-width forms) with the
combining marks dropped, then the letters Unicode does not decompose (ß → ss, æ → ae, œ → oe, ø → o,
ł → l, đ/ð → d, þ → th, ı → i). German transliterations ("zuerich" for "Zürich") are not folded: "ue"
is far more often two letters ("neue", "Feuer") than an umlaut.
"""
from __future__ import annotations

import unicodedata

FOLD_VERSION = 1  # part of the analysis version: a change here means stored indexes are rebuilt

_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
                          "ı": "i", "ħ": "h", "ŧ": "t", "ŀ": "l"})


def fold(text: str) -> str:
    """`text` case-folded and without accents (see the module docstring)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_LETTERS)
