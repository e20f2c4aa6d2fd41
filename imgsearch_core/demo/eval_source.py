"""Evaluation queries for generated scenes (the demo and the shifted collections), as a query source.

Registered with imgsearch_core.evaluation.query_sources on import: paraphrased one- and two-object queries whose
relevance is judged from the stored scene descriptions, and the objects shown as image-to-image groups.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imgsearch_core.scenes.queries import one_object_queries, two_object_queries
from imgsearch_core.scenes.captions import satisfies
from imgsearch_core.scenes.scenes import Scene
from imgsearch_core.scenes.vocabulary import vocabulary_of
from imgsearch_core.evaluation.query_sources import EvalQuery, QuerySet, register, without_leaks


def queries_from_scenes(items: Sequence, n_one: int = 300, n_two: int = 300, seed: int = 0) -> QuerySet | None:
    """Paraphrased one- and two-object queries with relevance judged from the stored scene descriptions."""
    described = [(item.id, Scene.from_metadata(item.metadata)) for item in items if "scene" in item.metadata]
    if not described:
        return None
    scenes = [scene for _, scene in described]
    vocab = vocabulary_of(next(item.metadata for item in items if "scene" in item.metadata))
    generated = one_object_queries(scenes, n_one, seed, vocab=vocab) + two_object_queries(scenes, n_two, seed, vocab=vocab)
    queries = [EvalQuery(q.text, frozenset(i for i, s in described if satisfies(s, q.spec))) for q in generated]
    kept, leaks = without_leaks(queries, items)
    return QuerySet("demo scenes", kept, leaks)


def scene_groups(items: Sequence) -> dict[str, str]:
    """id -> the objects a scene shows, for "more like this" (same objects count as relevant)."""
    return {i.id: "|".join(sorted(o.key() for o in Scene.from_metadata(i.metadata).objects))
            for i in items if "scene" in i.metadata}


@dataclass(frozen=True)
class DemoScenes:
    name: str = "demo scenes"
    n_one: int = 300
    n_two: int = 300
    seed: int = 0

    def queries(self, items: Sequence) -> QuerySet | None:
        return queries_from_scenes(items, self.n_one, self.n_two, self.seed)

    def groups(self, items: Sequence) -> dict[str, str]:
        return scene_groups(items)


register(DemoScenes.name, DemoScenes)
