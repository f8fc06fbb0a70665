"""Trending: the exact formula, the incremental forward-decay index, and the reader that picks a path."""
from fincommerce.trending.exact import rank, raw_over_time, score_columns, top_from_events
from fincommerce.trending.index import TrendingIndex
from fincommerce.trending.popularity import Popularity

__all__ = ["Popularity", "TrendingIndex", "rank", "raw_over_time", "score_columns", "top_from_events"]
