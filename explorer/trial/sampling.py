"""A fixed sample of latents rows spread over the classes: what the Trial tab's reconstructions show.

A validation file ordered by class would show one class in its first rows; a stratified, seeded draw shows every
class, and the same rows each time the page is opened.
"""

from __future__ import annotations

import numpy as np

SAMPLE_SEED = 0


def spread_rows(labels: np.ndarray, count: int, seed: int = SAMPLE_SEED) -> np.ndarray:
    """Row positions of `count` rows (fewer when there are fewer), taken in turn from each class in a seeded random
    order (one draw over all rows when there are no labels, -1), sorted by label then position."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes = [c for c in np.unique(labels) if c >= 0] or [None]
    pools = [rng.permutation(np.flatnonzero(labels == c) if c is not None else len(labels)) for c in classes]
    turns = max((len(pool) for pool in pools), default=0)
    order = [pool[k] for k in range(turns) for pool in pools if k < len(pool)]  # one a class, round after round
    picked = np.asarray(order[:count], dtype=np.int64)
    return picked[np.lexsort((picked, labels[picked]))]
