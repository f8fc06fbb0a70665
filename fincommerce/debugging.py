"""`debug=True` must show the seed's debug lines in a plain script or a notebook without logging set up."""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PACKAGE_LOGGER = "fincommerce"


def _emits_info(logger: logging.Logger) -> bool:
    """True when INFO records of `logger` already reach some handler (the caller configured logging)."""
    if not logger.isEnabledFor(logging.INFO):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if any(h.level <= logging.INFO for h in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


@contextmanager
def visible_logs(enabled: bool) -> Iterator[None]:
    """While `enabled`, print the package's INFO lines to stdout unless logging already shows them."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    if not enabled or _emits_info(logger):
        yield
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the caller's own handlers would print WARNINGs a second time
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
