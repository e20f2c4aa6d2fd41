"""Layer 2, the store: Chroma (embedded or a server behind chroma_gate), collections and their media, the
write lock, the write log, BM25 kept in step with Chroma, and each collection's caption-language policy.
Never imports models (and models never import it): a model's identity is the plain `types.ModelIdentity` record."""
