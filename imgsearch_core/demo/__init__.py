"""The offline demo: generated captioned scenes (scenes), paraphrased queries with exact relevance
(queries), the imgsearch-mini training command (model) and its quality table (quality)."""
