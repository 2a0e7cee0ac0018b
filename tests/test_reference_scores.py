"""The reference setting as disentanglement_lib computes it: fresh oracle samples with the metric configs' counts,
scikit-learn 0.21's logistic regression, UDR by Lasso; and what trials.parquet records of each score's protocol."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from vaemodels.metric_names import SCORE_PROTOCOLS, score_protocol
from vaemodels.scores import explicitness, logistic_regression
from vaemodels.storage import resolve
from vaemodels.table_rebuild import rebuild_trials_table
from vaemodels.trials_table import read_trials_table
from vaemodels.udr_columns import sweep_udr
from vaemodels.udr_scores import relative_strength, udr

# The classifiers on few validation rows of these tiny trials: sklearn notes that classes are many.
pytestmark = pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")


@pytest.fixture
def sweep(finished_trials, tmp_path):
    """A sweep folder holding private copies of the session's finished `trial0` and `trial1` (seeds 0 and 1)."""
    for name in ("trial0", "trial1"):
        shutil.copytree(finished_trials / name, tmp_path / "sweep" / name)
    return tmp_path / "sweep"


# ---- the fresh-sample protocol, end to end on a tiny shapes model (32 px, 2 latents)


@pytest.mark.slow  # about 10 s: 15,000 shapes rendered and encoded, DCI's forest on 10,000 rows
def test_reference_dci_trains_on_10000_and_tests_on_5000_fresh_points_and_the_table_says_so(sweep, cli, monkeypatch):
    import vaemodels.metrics

    seen = []
    real = vaemodels.metrics.dci_train_test

    def spy(*args, **keys):  # (codes, factors, test_codes, test_factors, ...)
        seen.append(tuple(array.shape for array in args[:4]))
        return real(*args, **keys)

    monkeypatch.setattr(vaemodels.metrics, "dci_train_test", spy)
    trained_mig = rebuild_trials_table(resolve(sweep)).set_index("trial_id").loc["trial0", "mig"]
    only = "dci,mig,sap,modularity,explicitness"
    done = cli("metrics", str(sweep), "--trials", "trial0", "--only", only, "--scores", "reference",
               "--regressor", "random_forest")  # fmt: skip
    assert done.returncode == 0, done.stderr
    # 2 latents, 5 factors: the forest trained on 10,000 fresh points and scored on 5,000 others.
    assert seen == [((10_000, 2), (10_000, 5), (5_000, 2), (5_000, 5))]
    frame, metadata = read_trials_table(resolve(sweep))
    protocol = metadata["score_protocol"]
    assert protocol["dci"] == {"codes": "fresh", "seed": 0, "train_points": 10_000, "test_points": 5_000,
                               "regressor": "random_forest"}  # fmt: skip
    assert protocol["mig"] == {"codes": "fresh", "seed": 0, "points": 10_000}
    assert protocol["modularity"] == {"codes": "fresh", "seed": 0, "points": 10_000}
    assert protocol["explicitness"]["classifier"] == "liblinear-ovr"
    assert protocol["sap"]["train_points"] == 10_000 and protocol["sap"]["test_points"] == 5_000
    assert metadata["score_setting"] == "reference"
    row = frame.set_index("trial_id").loc["trial0"]
    stored = json.loads((sweep / row["checkpoint_path"] / "dci.json").read_text())
    assert stored["used"] == {"codes": "fresh", "train_points": 10_000, "test_points": 5_000}
    assert stored["protocol"] == protocol["dci"]
    scores = json.loads((sweep / row["checkpoint_path"] / "scores.json").read_text())
    assert scores["codes"] == "fresh" and scores["mig"] == row["mig"]
    assert row["mig"] != trained_mig  # the fresh MIG replaced the one of the 40 stored validation rows
    for name in ("mig", "sap", "modularity", "explicitness", "dci_disentanglement", "dci_informativeness"):
        assert 0.0 <= row[name] <= 1.0, name
    # The quick setting reads the stored rows again: the cache is keyed by the protocol, so it computes again.
    assert cli("metrics", str(sweep), "--trials", "trial0", "--only", "dci", "--scores", "quick",
               "--regressor", "random_forest", "--dci-samples", "100").returncode == 0  # fmt: skip
    assert json.loads((sweep / row["checkpoint_path"] / "dci.json").read_text())["used"]["codes"] == "stored"
    assert seen[1] == ((32, 2), (32, 5), (8, 2), (8, 5))  # the 40 stored validation rows, split 80/20


def test_reference_udr_encodes_one_shared_fresh_sample_with_every_seed(sweep, monkeypatch):
    import vaemodels.udr_scores

    seen = []
    real = vaemodels.udr_scores.udr

    def spy(codes, informative=None, correlation="spearman"):
        seen.append(([c.shape for c in codes], correlation))
        return real(codes, informative=informative, correlation=correlation)

    monkeypatch.setattr(vaemodels.udr_scores, "udr", spy)
    frame = rebuild_trials_table(resolve(sweep))
    scored, problems = sweep_udr(resolve(sweep), frame, "reference")
    assert problems == []
    points = SCORE_PROTOCOLS["reference"]["udr"]["points"]
    assert points == 1_000 and seen == [([(points, 2), (points, 2)], "lasso")]  # not the 40 stored rows
    assert scored["udr_pairs"].tolist() == [1, 1]
    quick, _ = sweep_udr(resolve(sweep), frame, "quick")
    assert seen[-1] == ([(40, 2), (40, 2)], "spearman") and quick["udr_pairs"].tolist() == [1, 1]


def test_the_recorded_protocol_of_a_dataset_without_an_oracle_is_the_stored_latents():
    reference = score_protocol("reference", has_oracle=False, regressor="gradient_boosting", dci_samples=10_000)
    assert reference["dci"] == {"codes": "stored", "seed": "trial", "rows": 10_000, "train_fraction": 0.8,
                                "regressor": "gradient_boosting"}  # fmt: skip
    assert reference["sap"]["codes"] == "stored" and reference["beta_vae"]["codes"] is None
    assert reference["udr"]["codes"] == "stored" and reference["udr"]["correlation"] == "lasso"
    quick = score_protocol("quick", has_oracle=True)
    assert quick["explicitness"]["classifier"] == "lbfgs" and quick["udr"]["correlation"] == "spearman"
    assert quick["mig"]["codes"] == "stored" and quick["beta_vae"]["codes"] == "fresh"


# ---- UDR by Lasso: a known answer that Spearman does not give

# Two sources on a full 20 x 20 grid, standardised: their sample correlation is exactly 0 and each has variance 1,
# so Lasso(alpha) of a standardised target y on them has the closed form coef_k = sign(c_k) max(|c_k| - alpha, 0),
# c_k = mean(s_k y) (its objective separates by coordinate: 1/(2n) |y - S w|^2 + alpha |w|_1, S'S / n = I).
_GRID = np.stack([np.repeat(np.arange(20.0), 20), np.tile(np.arange(20.0), 20)], axis=1)
SOURCES = (_GRID - _GRID.mean(axis=0)) / _GRID.std(axis=0)  # (400, 2)


def test_udr_lasso_known_answer_that_spearman_does_not_give() -> None:
    s0, s1 = SOURCES[:, 0], SOURCES[:, 1]
    first = SOURCES
    second = np.stack([s0, 0.8 * s0 + 0.6 * s1], axis=1)  # both dims of unit variance, mean 0: standardised already
    # Model 2's codes regressed on model 1's: target s0 has c = (1, 0), coef (0.9, 0); target 0.8 s0 + 0.6 s1 has
    # c = (0.8, 0.6), coef (0.7, 0.5). R (model 1 dims x model 2 dims) = [[0.9, 0.7], [0, 0.5]].
    # disentanglement_lib's relative strength: columns 0.9^2 / 0.9 = 0.9 and 0.7^2 / 1.2; rows 0.9^2 / 1.6 and
    # 0.5^2 / 0.5 = 0.5; UDR = ((0.9 + 0.49 / 1.2) / 2 + (0.81 / 1.6 + 0.5) / 2) / 2.
    expected = ((0.9 + 0.49 / 1.2) / 2 + (0.81 / 1.6 + 0.5) / 2) / 2  # 0.5786...
    mask = [np.ones(2, bool)] * 2
    scores, pairs = udr([first, second], informative=mask, correlation="lasso")
    assert scores[1] == pytest.approx(expected, abs=1e-6) and pairs.tolist() == [1, 1]
    # |Spearman rho| of the same codes: R = [[1, rho(s0, y)], [0, rho(s1, y)]], not Lasso's shrunk coefficients.
    spearman, _ = udr([first, second], informative=mask, correlation="spearman")
    assert abs(spearman[1] - expected) > 0.05
    # The same sources permuted, rescaled and sign-flipped: Spearman sees a permutation matrix (UDR 1); Lasso on
    # the standardised codes shrinks each coefficient by alpha: R = 0.9 x a permutation, each ratio 0.9^2 / 0.9.
    moved = np.stack([-3.0 * s1, 0.5 * s0], axis=1)
    assert udr([first, moved], informative=mask, correlation="lasso")[0] == pytest.approx([0.9, 0.9], abs=1e-6)
    assert udr([first, moved], informative=mask, correlation="spearman")[0] == pytest.approx([1.0, 1.0], abs=1e-12)
    # Unequal sides (model 2 keeps one informative dim): R = [[0.9], [0]]. The library averages each side, (0.9 +
    # (0.9 + 0) / 2) / 2 = 0.675, where eq. 2 sums over a + b = 3 dims: (0.9 + 0.9 + 0) / 3 = 0.6.
    assert relative_strength(np.array([[0.9], [0.0]])) == pytest.approx(0.675, abs=1e-12)
    with pytest.raises(ValueError, match="UDR correlation 'pearson'"):
        udr([first, second], correlation="pearson")


# ---- the logistic regression of scikit-learn 0.21's defaults


def three_classes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # One code, three ordered classes that overlap: the middle one is not linearly separable from the other two.
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 100)
    codes = (labels * 1.5 + rng.normal(size=300))[:, None]  # (300, 1)
    test_labels = np.repeat([0, 1, 2], 60)
    test_codes = (test_labels * 1.5 + rng.normal(size=180))[:, None]
    return codes, labels, test_codes, test_labels


def test_the_reference_explicitness_uses_one_vs_rest_liblinear_as_scikit_learn_0_21_did() -> None:
    codes, labels, test_codes, test_labels = three_classes()
    mean, std = codes.mean(), codes.std()
    train, test = (codes - mean) / std, (test_codes - mean) / std  # standardised with the training rows' moments
    # 0.21's LogisticRegression(): a binary liblinear model (C=1, intercept regularised) for each class against the
    # rest; a row's class probabilities are their sigmoids divided by their sum.
    raw = np.column_stack(
        [LogisticRegression(solver="liblinear").fit(train, labels == c).predict_proba(test)[:, 1] for c in range(3)]
    )
    by_hand = raw / raw.sum(axis=1, keepdims=True)  # (180, 3)
    ovr = logistic_regression("liblinear-ovr").fit(train, labels).predict_proba(test)
    np.testing.assert_allclose(ovr, by_hand, atol=1e-12)
    multinomial = logistic_regression("lbfgs").fit(train, labels).predict_proba(test)
    assert np.abs(multinomial - by_hand).max() > 0.05  # a softmax over one shared fit gives other probabilities
    # Explicitness: each class's AUC against the rest from its probability, averaged (one factor here).
    expected = np.mean([roc_auc_score(test_labels == c, by_hand[:, c]) for c in range(3)])
    assert SCORE_PROTOCOLS["reference"]["classifier"] == "liblinear-ovr"
    reference = explicitness(codes, labels, test_codes, test_labels, classifier="liblinear-ovr")
    assert reference == pytest.approx(expected, abs=1e-12)
    quick = explicitness(codes, labels, test_codes, test_labels, classifier="lbfgs")
    assert quick != pytest.approx(reference, abs=1e-6)
    with pytest.raises(ValueError, match="classifier 'sag'"):
        logistic_regression("sag")


def test_a_recompute_describes_what_it_computed_and_keeps_the_rest(sweep, cli):
    done = cli("metrics", str(sweep), "--only", "sap", "--scores", "quick")
    assert done.returncode == 0, done.stderr
    _, metadata = read_trials_table(resolve(sweep))
    assert list(metadata["score_protocol"]) == ["sap"]  # only what was computed is described
    assert metadata["score_protocol"]["sap"] == {"codes": "stored", "seed": "trial", "rows": 3_000,
                                                 "train_fraction": 0.6667}  # fmt: skip
    assert cli("metrics", str(sweep), "--only", "udr", "--scores", "quick").returncode == 0
    _, metadata = read_trials_table(resolve(sweep))
    assert list(metadata["score_protocol"]) == ["sap", "udr"] and metadata["score_protocol"]["sap"]["rows"] == 3_000
