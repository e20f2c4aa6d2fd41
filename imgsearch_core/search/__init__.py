"""Layer 3, search: the Searcher (engine), fusion, facets, the filter language (filters/), exports and the
provenance check. Never imports ingest (an independence contract in .importlinter)."""
