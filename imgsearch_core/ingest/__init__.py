"""Layer 3, ingest: sources (folders, zips, uploads), decoding, preparation, batched writes, sharding and
re-reading metadata. Never imports search (an independence contract in .importlinter)."""
