"""The errors a store or collection request raises; every one carries a message for the user."""
from __future__ import annotations


class StoreError(ValueError):
    """A user-facing problem with a store or collection request."""


class ModelMismatchError(StoreError):
    """The collection is pinned to another model."""


class CollectionNotFoundError(StoreError):
    """No collection of that name."""


class CaptionerError(StoreError):
    """The captioning model is missing or cannot be loaded; the message names the fix."""
