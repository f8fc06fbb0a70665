"""Published next-item results on REES46's October 2019 log, for context only: other protocols, not ours.

Source: Moreira et al., "Transformers4Rec: Bridging the Gap between NLP and Sequential / Session-Based
Recommendation", RecSys 2021, Table 2 (paper PDF in github.com/NVIDIA-Merlin/publications,
2021_acm_recsys_transformers4rec). HR@20 is recall@20 there: one relevant item per prediction.
"""
from __future__ import annotations

import pandas as pd

SOURCE = "Moreira et al., Transformers4Rec, RecSys 2021, Table 2 (REES46 eCommerce, October 2019)"
ANCHORS: tuple[dict[str, float | str], ...] = (
    {"model": "XLNet (MLM), Transformers4Rec", "ndcg@20": 0.2428, "recall@20": 0.4763},
    {"model": "XLNet (RTD), Transformers4Rec (best on REES46)", "ndcg@20": 0.2546, "recall@20": 0.4886},
    {"model": "GRU4Rec (full training)", "ndcg@20": 0.2231, "recall@20": 0.4414},
    {"model": "V-SkNN (session kNN)", "ndcg@20": 0.2187, "recall@20": 0.4662},
)
WHY_THEY_DIFFER = (
    "They rank the whole catalogue (about 157k items), we rank 151 candidates that always include the target; "
    "they drop consecutive repeats, keep sessions of 2 to 20 interactions and count a return to an earlier item as "
    "a target, we score only first views of products new to the session; they train and test day by day over the "
    "whole month (31 days, 3.3M sessions), we split one log in time once (a 3-hour sample ships with this project)."
)


def published_anchors() -> pd.DataFrame:
    """The anchors as a table, every row labelled with its source and protocol."""
    return pd.DataFrame([{**a, "source": SOURCE, "protocol": "other: full-catalogue next item"} for a in ANCHORS])
