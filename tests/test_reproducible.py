"""Reproducible anywhere: the grid's tie rule is stated and followed, and a LambdaRank model retrained in a fresh
process with other thread settings (LightGBM's and torch's) has the same fingerprint, as do the embeddings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fincommerce.offline.analysis import table_fingerprint
from fincommerce.offline.rankers import compare_rankers
from fincommerce.offline.tuning import TIE_TOLERANCE, pick_best

TESTS = Path(__file__).parent
SEED_W = np.array([0.30, 0.25, 0.15, 0.20, 0.10])


def test_ties_go_to_fewest_non_zero_weights_then_closest_to_the_seed() -> None:
    grid = np.array([[0.35, 0.65, 0, 0, 0],   # two weights
                     [0, 1.0, 0, 0, 0],       # one weight, far from the seed
                     [1.0, 0, 0, 0, 0],       # one weight, closer to the seed (L1 1.4 vs 1.5)
                     [0.2, 0.2, 0.2, 0.2, 0.2]])
    tied = np.array([0.7, 0.7, 0.7 - TIE_TOLERANCE / 2, 0.69])
    assert pick_best(tied, grid, SEED_W) == 2
    assert pick_best(np.array([0.7, 0.7, 0.6, 0.69]), grid, SEED_W) == 1
    assert pick_best(np.array([0.7, 0.6, 0.6, 0.71]), grid, SEED_W) == 3  # a real winner needs no rule
    # equal on both keys: grid order decides, the same on every machine
    assert pick_best(np.array([0.5, 0.5]), np.array([[0.3, 0.7, 0, 0, 0], [0.7, 0.3, 0, 0, 0]]),
                     np.full(5, 0.2)) == 0


FRESH = """
import json, sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_learned_ranker import DEFAULTS, synthetic
from fincommerce.embedding import Embedder
from fincommerce.offline.analysis import table_fingerprint
from fincommerce.offline.rankers import compare_rankers
c = compare_rankers(synthetic(300, seed=9), DEFAULTS, step=0.1, n_boot=100, seed=2, num_threads=1)
v = Embedder(batch_size=7).encode_uncached({texts!r})
print(json.dumps([c.model.fingerprint, table_fingerprint(c.table), v.tobytes().hex()]))
"""
TEXTS = [f"user viewed product {i} price {i * 3.7:.2f} for gaming laptop" for i in range(40)]


@pytest.mark.slow
def test_a_fresh_process_with_other_threads_gets_the_same_fingerprints() -> None:
    import torch
    from test_learned_ranker import DEFAULTS, synthetic

    from fincommerce.embedding import Embedder

    here = compare_rankers(synthetic(300, seed=9), DEFAULTS, step=0.1, n_boot=100, seed=2, num_threads=2)
    vectors = Embedder(batch_size=64).encode_uncached(TEXTS)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", FRESH.format(tests=str(TESTS), texts=TEXTS)], env=env,
                         capture_output=True, text=True, timeout=600, check=True).stdout
    model, table, vector_hex = json.loads(out.strip().splitlines()[-1])
    assert torch.get_num_threads() != 1 or os.cpu_count() == 1
    assert model == here.model.fingerprint
    assert table == table_fingerprint(here.table)
    assert vector_hex == vectors.tobytes().hex()
