"""Layer 4, evaluation: metrics, evaluation runs over query sources, editors' judgements and fine-tuning.
Above ingest and search: it runs searches and re-embeds collections."""
