"""Layer 1, text analysis: caption languages (the pure part), spaCy analysis, lemma tables, plain queries and BM25.

Knows nothing of the store or the models; the store keeps each collection's language policy (store.language_policy)."""
