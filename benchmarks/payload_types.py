"""What a payload costs the qdrant-edge binding, per value type and per event layout (issue 24, part 4).

    python benchmarks/payload_types.py      # table + results/payload_types.json

Builds 20,000 `qdrant_edge.Point`s (payload-only, as events are) with one payload shape each and upserts them
into a shard with the timestamp index, nothing of ours around it: µs per point to build, and to build and
upsert. Rows are measured one after another in one run (best of 3 each), so they compare with each other;
the machine is shared, so absolute µs are under load.
"""
from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import qdrant_edge as qe

N = 20_000
RESULTS = Path(__file__).resolve().parent / "results"
IDS = [str(uuid.uuid5(uuid.NAMESPACE_DNS, f"e{i}")) for i in range(N)]
FACTS = [{"product_id": "prod_00001", "interaction_type": "view", "weight": 0.1, "query": "laptop",
          "product_name": "Apple MacBook", "brand": "Apple", "categories": ["Laptops", "Computers"], "price": 1299.0}]

SHAPES: dict[str, Callable[[int], Any]] = {
    "no payload": lambda i: None,
    "one bool": lambda i: {"a": True},
    "one int": lambda i: {"a": i},
    "one float": lambda i: {"a": i + 0.5},
    "one short string": lambda i: {"a": f"u{i % 100}"},
    "one list of 2 strings": lambda i: {"a": ["Laptops", "Computers"]},
    "one list of 3 ints": lambda i: {"a": [1, 2, 3]},
    "one dict of 3 values": lambda i: {"a": {"x": IDS[i], "y": f"u{i % 100}", "z": 1.5}},
    "event, the 11 keys before": lambda i: {"event_id": f"br{i}", "user_id": f"r{i % 100}", "timestamp": 1.79e9 - i,
                                            **FACTS[0]},
    "event, 4 keys (facts as an int): stored now": lambda i: {"event_id": f"br{i}", "user_id": f"r{i % 100}",
                                                             "timestamp": 1.79e9 - i, "facts": 5652845911032553845},
    "event, 4 keys (facts as a hex string)": lambda i: {"event_id": f"br{i}", "user_id": f"r{i % 100}",
                                                       "timestamp": 1.79e9 - i, "facts": "4e73a1c2b9d0f417"},
    "event, 3 keys (event and user ids packed in one string)": lambda i: {
        "ids": f"br{i}\x1fr{i % 100}", "timestamp": 1.79e9 - i, "facts": 5652845911032553845},
}


def measure(shape: Callable[[int], Any], folder: Path) -> tuple[float, float]:
    payloads = [shape(i) for i in range(N)]
    build = min(_timed(lambda: [qe.Point(i, {}, p) for i, p in zip(IDS, payloads)]) for _ in range(3))
    totals = []
    for attempt in range(3):  # a fresh shard each time
        shard = qe.EdgeShard.create(str(folder / str(attempt)), qe.EdgeConfig(vectors={"none": qe.EdgeVectorParams(
            size=1, distance=qe.Distance.Cosine)}))
        shard.update(qe.UpdateOperation.create_field_index("timestamp", qe.PayloadSchemaType.Float))
        totals.append(_timed(lambda s=shard: [s.update(qe.UpdateOperation.upsert_points(
            [qe.Point(i, {}, p) for i, p in zip(IDS[k:k + 2048], payloads[k:k + 2048])])) for k in range(0, N, 2048)]))
        shard.close()
    return build / N * 1e6, min(totals) / N * 1e6


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    rows = []
    print(f"{'payload of each point':58s} {'build µs':>9s} {'+upsert µs':>11s} {'points/s':>10s}")
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, shape) in enumerate(SHAPES.items()):
            build, total = measure(shape, Path(tmp) / str(k))
            rows.append({"payload": name, "build_us": build, "build_upsert_us": total, "points_per_s": 1e6 / total})
            print(f"{name:58s} {build:9.2f} {total:11.2f} {1e6 / total:10,.0f}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "payload_types.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
