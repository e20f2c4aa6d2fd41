"""The offline demo: generated scenes (vocabulary, shapes, scenes, render, captions), the demo collection
(collection), paraphrased queries with exact relevance (queries), the imgsearch-mini training command
(model) and its quality table (quality)."""
