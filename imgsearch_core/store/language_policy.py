"""A collection's caption language: read, recorded, detected from its first captions.

Why in the store: the language is a collection setting that every process and replica must read the same
way, and recording it takes the store's write lock; the languages themselves and their detection are
text.languages, which knows no store.
"""
from __future__ import annotations

from imgsearch_core.store.collection import Collection
from imgsearch_core.store.lock import StoreLockedError
from imgsearch_core.text.languages import (DETECT_SAMPLE, DETECTED, LANGUAGE_SETTING, SET, SOURCE_SETTING, Detection,
                                           LanguageChoice, check_language, choice_from_settings, detect)


def caption_language(collection: Collection) -> LanguageChoice:
    """The collection's recorded caption language (the default while none is recorded)."""
    return choice_from_settings(collection.settings())


def set_language(collection: Collection, code: str, source: str = SET) -> LanguageChoice:
    """Record the language; the BM25 index is rebuilt in it on its next use (bm25_sync)."""
    check_language(code)
    collection.set_setting(LANGUAGE_SETTING, code)
    collection.set_setting(SOURCE_SETTING, source)
    return LanguageChoice(code, source)


def detect_collection(collection: Collection) -> Detection | None:
    """Detection over the collection's first DETECT_SAMPLE captions (None while it has none).

    Captions only: the place names and keywords BM25 also indexes say little about the language."""
    captioned = collection.page(0, DETECT_SAMPLE, where={"captioned": True})  # one read, even when none is
    return detect([i.caption for i in captioned])


def ensure_language(collection: Collection) -> LanguageChoice:
    """The recorded language; when none is and the collection has captions, detect it and record it.

    Called when captions may have arrived (after an ingest, before a search): the first captions fix
    the language, later ones never change it behind the admin's back (Admin > detect again does).
    When another process holds the store's write lock, nothing is recorded and the next call tries
    again (the index stays in the recorded language meanwhile, and queries are analysed like it).
    """
    choice = caption_language(collection)
    if choice.source is not None:
        return choice
    found = detect_collection(collection)
    if found is None:
        return choice
    try:
        return set_language(collection, found.language, DETECTED)
    except StoreLockedError:  # another process writes now
        return choice
