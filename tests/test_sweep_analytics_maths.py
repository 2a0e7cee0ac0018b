"""The Pareto front and the fANOVA importance of the Sweep tab's analytics, on tables whose answer is known."""

import numpy as np
import pandas as pd
import pytest

from explorer.sweep.importance import importances, searched_keys, study_from_table
from explorer.sweep.pareto import larger_is_better, pareto_mask


def brute_force_front(cost_x: np.ndarray, cost_y: np.ndarray) -> np.ndarray:
    n = len(cost_x)
    dominated = [
        any(cost_x[j] <= cost_x[i] and cost_y[j] <= cost_y[i] and (cost_x[j], cost_y[j]) != (cost_x[i], cost_y[i])
            for j in range(n))
        for i in range(n)
    ]  # fmt: skip
    return ~np.array(dominated)


def test_the_front_of_a_small_case_by_hand():
    x = np.array([1.0, 2.0, 3.0, 2.5, 4.0])
    y = np.array([5.0, 3.0, 1.0, 4.0, 0.5])
    assert pareto_mask(x, y).tolist() == [True, True, True, False, True]
    # maximising y instead: only the highest y at the lowest x survives, and nothing else beats on both
    assert pareto_mask(x, y, maximize_y=True).tolist() == [True, False, False, False, False]


@pytest.mark.parametrize("maximize", [(False, False), (True, False), (False, True), (True, True)])
def test_the_front_agrees_with_the_definition_on_random_points(maximize):
    rng = np.random.default_rng(sum(maximize))
    x, y = rng.integers(0, 12, 200).astype(float), rng.integers(0, 12, 200).astype(float)  # with ties
    expected = brute_force_front(-x if maximize[0] else x, -y if maximize[1] else y)
    assert pareto_mask(x, y, *maximize).tolist() == expected.tolist()


def test_missing_values_are_never_on_the_front():
    front = pareto_mask(np.array([np.nan, 1.0, 2.0]), np.array([0.0, 1.0, np.nan]))
    assert front.tolist() == [False, True, False]


def test_directions_follow_the_metric_names():
    assert larger_is_better("mig") and larger_is_better("probe_accuracy")
    assert not larger_is_better("best_loss") and not larger_is_better("val_kl")


def sweep_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "trial_id": [f"t{i}" for i in range(n)],
            "arch": rng.choice(["vae", "branched"], n),
            "beta": np.exp(rng.uniform(np.log(0.1), np.log(30), n)),
            "lr": np.exp(rng.uniform(np.log(1e-4), np.log(1e-2), n)),
            "latent_dim": rng.choice([2, 4, 8], n),
            "epochs": 2,  # the same in every trial: not a searched key
        }
    )
    frame["classifier_weight"] = np.where(frame["arch"] == "branched", rng.uniform(0.5, 2, n), np.nan)
    frame["best_loss"] = 10 * np.log(frame["beta"]) + rng.normal(0, 0.1, n)  # beta alone matters
    return frame


def test_the_study_holds_one_trial_a_row_with_the_varying_keys():
    frame = sweep_table()
    assert set(searched_keys(frame)) == {"arch", "latent_dim", "beta", "classifier_weight", "lr"}
    study = study_from_table(frame, "best_loss")
    assert len(study.trials) == len(frame)
    assert study.trials[0].distributions["beta"].log and not study.trials[0].distributions["latent_dim"].log
    with pytest.raises(KeyError, match="'mig'"):
        study_from_table(frame, "mig")


def test_fanova_finds_the_one_hyperparameter_that_matters_and_is_repeatable():
    frame = sweep_table()
    found = importances(frame, "best_loss")
    assert max(found, key=found.get) == "beta" and found["beta"] > 0.8
    assert "classifier_weight" not in found  # set only for branched trials: not in every trial's space
    assert sum(found.values()) == pytest.approx(1.0)
    assert importances(frame, "best_loss") == found


def test_too_few_trials_give_no_importance():
    assert importances(sweep_table(3), "best_loss") == {}


def test_parallel_axes_scale_to_unit_and_map_a_brushed_span_back_to_values():
    from explorer.sweep.parallel import make_axis, positions

    frame = pd.DataFrame({"beta": [0.1, 1.0, 10.0], "latent_dim": [2, 4, 10], "arch": ["vae", "branched", "vae"]})
    beta, dims, arch = (make_axis(frame, c) for c in ("beta", "latent_dim", "arch"))
    assert beta.log and beta.label == "beta (log)" and not dims.log and not arch.brushable
    np.testing.assert_allclose(positions(frame, [beta, dims]), [[0.0, 0.0], [0.5, 0.25], [1.0, 1.0]])
    assert beta.values_between(0.5, 1.0) == pytest.approx((1.0, 10.0))
    eight = make_axis(pd.DataFrame({"beta": [1.0, 8.0]}), "beta")
    assert eight.values_between(0.5, 1.0)[1] == 8.0 and eight.values_between(0.0, 0.5)[0] == 1.0  # exact ends
    assert beta.positions_of(1.0, 10.0) == pytest.approx((0.5, 1.0))
    assert dims.values_between(-0.2, 0.25) == pytest.approx((2.0, 4.0))  # clipped to the axis
    assert arch.scale(frame["arch"]).tolist() == [1.0, 0.0, 1.0]
    assert not make_axis(pd.DataFrame({"mig": [0.001, 0.4]}), "mig", wide_is_log=False).log
