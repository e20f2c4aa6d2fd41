"""Layer 2, models (beside the store, independent of it): the CLIP embedder, its inference backends
(backends/), text towers (text_towers/), the training loop and the CLIP factory, and a collection's backend
choice. Never imports the store: a collection is seen through the `types.CollectionSettings` protocol."""
