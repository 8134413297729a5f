"""When to try a failed delivery again: exponential backoff with full jitter.

Full jitter (a uniform draw below the exponential ceiling) spreads the retries of many
deliveries that failed together, so a subscriber coming back is not hit by all at once.
"""

from __future__ import annotations

import random


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failure (1 for the first)."""
    ceiling = min(cap, base * 2 ** min(attempts - 1, 64))
    return random.uniform(0, ceiling)
