"""How the embedded store lays out a collection on disk and in memory (issue 24: a month in a few GB).

Left as the engine makes it, a collection keeps its whole mutable segment in memory: ~700 B of RSS per stored
event once opened. Optimized segments with the payload and the id tracker `Cold` and on-disk payload indexes
hold ~210 B (`benchmarks/segment_memory.py`). The HNSW graph is off (m=0): the interactions collections'
vector is a placeholder, and the products' search stays the exact full scan it was (an HNSW index would make
it approximate), while optimizing costs ~10 µs a point instead of 60–90. `max_segment_size` bounds what one
`optimize()` rewrites: unbounded, every import would merge the whole store again
(`benchmarks/segment_layout.py`). The engine sizes segments by their vector bytes alone, so a point stored
without any vector never reaches the indexing threshold and is never optimized: the points of a payload-only
collection carry the placeholder vector [1.0]. Collections created before keep their own config (it lives in
the shard) and their points stay as they are.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import qdrant_edge as qe

SEGMENT_POINTS = 524_288  # at most this many points in one optimized segment (the engine counts vector bytes)
NO_VECTOR = "none"  # the unused vector name of payload-only collections
PLACEHOLDER = {NO_VECTOR: [1.0]}  # what a payload-only point of a laid-out collection carries
_ON_DISK = {"keyword": lambda: qe.KeywordIndexParams(on_disk=True), "float": lambda: qe.FloatIndexParams(on_disk=True)}


def vectors(dimension: int) -> qe.EdgeVectorParams | dict[str, qe.EdgeVectorParams]:
    """The engine wants a vector config: a payload-only collection declares an unused 1-d one."""
    params = qe.EdgeVectorParams(size=dimension or 1, distance=qe.Distance.Cosine)
    return params if dimension else {NO_VECTOR: params}


def max_segment_kb(dimension: int) -> int:
    """SEGMENT_POINTS in the engine's unit: KB of float32 vectors."""
    return SEGMENT_POINTS * 4 * max(1, dimension) // 1024


def config(dimension: int) -> qe.EdgeConfig:
    """A new collection's config: optimized segments Cold, no HNSW graph, bounded merges."""
    return qe.EdgeConfig(
        vectors=vectors(dimension), payload_memory=qe.Memory.Cold, id_tracker_memory=qe.Memory.Cold,
        hnsw_config=qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000),
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1, max_segment_size=max_segment_kb(dimension)))


def index_params(kind: str) -> Any:
    """A payload index kept on disk (the engine reads it through the page cache)."""
    return _ON_DISK[kind]()


def laid_out(folder: Path) -> tuple[bool, bool]:
    """Whether a collection was created with `config` (only those are optimized: an older one, optimized
    with the engine's defaults, would get an HNSW graph, i.e. approximate product search, and unbounded
    merges), and whether it is payload-only (its points get PLACEHOLDER)."""
    try:
        saved = json.loads((folder / "edge_config.json").read_text())
    except (OSError, ValueError):
        return False, False
    ours = bool((saved.get("optimizers") or {}).get("max_segment_size")) and (saved.get("hnsw_config") or {}).get(
        "m") == 0
    return ours, ours and NO_VECTOR in (saved.get("vectors") or {})
