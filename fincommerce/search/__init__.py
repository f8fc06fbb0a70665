"""Search: query understanding, the five signals, ranking with explanations, behaviour, and the engine."""
from fincommerce.search.behaviour import BehaviourIndex
from fincommerce.search.engine import SearchEngine
from fincommerce.search.history import BehaviourHistory
from fincommerce.search.query import ParsedQuery, parse_query
from fincommerce.search.ranking import Candidates, rank_candidates, score_candidates

__all__ = ["BehaviourHistory", "BehaviourIndex", "Candidates", "ParsedQuery", "SearchEngine", "parse_query",
           "rank_candidates", "score_candidates"]
