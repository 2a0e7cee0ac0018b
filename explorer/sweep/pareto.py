"""The Pareto front of two metrics: the trials no other trial beats on both (Deb 2001, "Multi-Objective Optimization
Using Evolutionary Algorithms", sec. 2.4, non-domination), and which way each metric is better."""

from __future__ import annotations

import numpy as np

from vaemodels import metric_mode


def larger_is_better(metric: str) -> bool:
    """True for metrics that improve as they grow (mig, DCI, the scores, accuracies): vaemodels' METRIC_MODES; a
    metric of no known way (a config key, a count) is read as lower-is-better, as the losses."""
    return metric_mode(metric) == "max"


def pareto_mask(x: np.ndarray, y: np.ndarray, maximize_x: bool = False, maximize_y: bool = False) -> np.ndarray:
    """Boolean mask of the non-dominated points: none other is at least as good on both and better on one.
    Rows with a missing value are never on the front."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d and the same length; got {x.shape} and {y.shape}")
    cost_x, cost_y = (-x if maximize_x else x), (-y if maximize_y else y)  # both minimised from here
    valid = np.flatnonzero(np.isfinite(cost_x) & np.isfinite(cost_y))
    order = valid[np.lexsort((cost_y[valid], cost_x[valid]))]  # by x, ties by y
    front = np.zeros(len(x), dtype=bool)
    best_y, last = np.inf, None
    for row in order:  # a point is on the front when its y beats every point before it (all of which have x <= its x)
        if cost_y[row] < best_y:
            front[row], best_y, last = True, cost_y[row], row
        elif last is not None and cost_y[row] == cost_y[last] and cost_x[row] == cost_x[last]:
            front[row] = True  # an exact duplicate of a front point is not dominated either
    return front
