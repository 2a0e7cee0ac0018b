"""The one list of metric names, thresholds and defaults: what computes, stores, shows or ranks a metric reads it here.

Light on purpose (no numpy, no scikit-learn): the command line's parser and the explorer's labels import it.
"""

from __future__ import annotations

from typing import Any

# Computed on a trial's latents at each new best epoch (cheap: seconds at 10,000 samples).
LATENT_KEYS = ("active_units", "probe_accuracy", "mig", "gaussian_tc")
# Computed once the trial has finished, on its best latents (a classifier per factor: the costly one).
DCI_KEYS = ("dci_disentanglement", "dci_completeness", "dci_informativeness")
# Every latent-space metric of a trial row, in the order tables show them.
LATENT_METRICS = (*LATENT_KEYS, *DCI_KEYS)

# Burda et al. 2015: a dimension is active when its posterior mean varies more than this over the data.
ACTIVE_VARIANCE = 0.01
DCI_REGRESSORS = ("random_forest", "gradient_boosting")
DCI_REGRESSOR = "random_forest"  # seconds a trial; `latentsweep metrics --regressor gradient_boosting`: the reference
DCI_SAMPLES = 10_000  # latent rows a trial for DCI, drawn without replacement (seeded)
# A study's regressor: gradient boosting is disentanglement_lib's, and ranks trials as it does (the forest, ~50x
# faster, can swap two close codes); the forest stays the default of CI and --quick.
STUDY_DCI_REGRESSOR = "gradient_boosting"

KEEP_POLICIES = ("best-and-last", "best")  # checkpoints a finished trial keeps


def loss_name(recon: str | None) -> str:
    """What `loss` and `best_loss` are for a reconstruction: a -ELBO in nats only for the Bernoulli likelihood.

    With `gaussian` the reconstruction term is the original project's 1000 x pixel-mean squared error, which is
    not a log-likelihood, so the sum with the KL is a scaled objective, not a bound.
    """
    if recon == "gaussian":
        return "validation objective (1000 x MSE + KL, the original's; not a -ELBO)"
    return "validation -ELBO (nats)"


# The scores computed once a trial has finished, each a trials.parquet column (null when the dataset cannot give it).
CODE_SCORES = ("sap", "modularity", "explicitness")  # on the stored validation latents and their factors
ORACLE_SCORES = ("beta_vae", "factor_vae")  # on fresh samples of the dataset's oracle, through the trial's encoder
SCORE_KEYS = (*CODE_SCORES, *ORACLE_SCORES)
UDR_KEYS = ("udr", "udr_pairs")  # over the sweep: trials of one configuration and data_seed, differing in seed
# What a finished trial's scoring fills: `mig` only where the setting draws fresh codes (SCORE_PROTOCOLS), where it
# replaces the value computed during training on the stored latents.
TRIAL_SCORE_KEYS = ("mig", *SCORE_KEYS)
# What `latentsweep metrics --only` recomputes: DCI's three columns, MIG (fresh codes only), each score, UDR's two.
RECOMPUTABLE = ("dci", *TRIAL_SCORE_KEYS, "udr")
SCORE_SETTING = "quick"  # a sweep's default; a study's full run: "reference"

# Which way each metric is better, the one list that `best`, a sweep's default --mode and the explorer's views read:
# "min" for a loss, a loss term or a total correlation; "max" for a score, an accuracy (DCI's informativeness here is
# its classifiers' test accuracy) or a count of active dimensions.
LOSS_TERMS = ("recon", "kl", "classifier", "total")  # each per split: `val_recon`, `train_kl`, ...
METRIC_MODES: dict[str, str] = {
    "loss": "min",
    "best_loss": "min",
    **{f"{split}_{term}": "min" for split in ("train", "val") for term in LOSS_TERMS},
    **{f"{split}_accuracy": "max" for split in ("train", "val")},
    "gaussian_tc": "min",  # total correlation of the codes: 0 when they are independent
    **dict.fromkeys(("active_units", "probe_accuracy", "mig", *DCI_KEYS, *SCORE_KEYS, "udr"), "max"),
    "epoch_seconds": "min",
    "samples_per_second": "max",
}
BETTER = {"min": "lower is better", "max": "higher is better"}


def metric_mode(metric: str) -> str | None:
    """Which way `metric` is better, "min" or "max"; None for a column with no known direction."""
    return METRIC_MODES.get(metric)


# Kim & Mnih 2018 (as disentanglement_lib): a code dim takes part in the FactorVAE vote when its std exceeds this.
FACTOR_VAE_STD = 0.05
# Sample counts of the oracle scores and UDR: disentanglement_lib's defaults, and a small set for CI.
UDR_KL_THRESHOLD = 0.01  # a latent is informative to UDR when its mean KL to the prior exceeds this (Duan et al. 2020)
SCORE_SETTINGS = {
    "reference": {
        "batch_size": 64,
        "num_train": 10_000,
        "num_eval": 5_000,
        "num_variance_estimate": 10_000,
    },
    # Small enough for CI with a real encoder: the BetaVAE score encodes 2 x 450 x 16 = 14,400 images, the
    # FactorVAE score 1,000 + 450 x 16 = 8,200 (the reference: 1,920,000 and 970,000).
    "quick": {
        "batch_size": 16,
        "num_train": 300,
        "num_eval": 150,
        "num_variance_estimate": 1_000,
    },
}

# ---- how each setting computes the scores (written into trials.parquet's metadata as `score_protocol`)

# "codes": where the code scores read their codes: "fresh" i.i.d. oracle samples through the trial's encoder, or the
# "stored" validation latents of its best checkpoint.
# The logistic regressions of explicitness and the BetaVAE score. "liblinear-ovr": what disentanglement_lib got from
# `LogisticRegression()` under scikit-learn 0.21 (liblinear, one-vs-rest, C=1, max_iter 100); "lbfgs": multinomial,
# max_iter 1000, what the quick setting has always used.
CLASSIFIERS = ("liblinear-ovr", "lbfgs")
# UDR's similarity matrix: disentanglement_lib's udr_sklearn default, Lasso(alpha=0.1) on standardised codes, each
# model's codes regressed on the other's ("lasso"); or |Spearman rho| ("spearman"), symmetric.
UDR_CORRELATIONS = ("lasso", "spearman")
# How each correlation's pairs make a model's UDR. Lasso, as disentanglement_lib: a pair is directed (model i's codes
# regressed on model j's), its relative strength (mean over columns + mean over rows) / 2, model i's score the median
# over j of the pairs that predict it. Spearman: symmetric pairs, Duan et al. 2020 eq. 2 (sums over (a + b) dims).
UDR_AGGREGATES = {
    "lasso": "directed pairs, (column mean + row mean) / 2",
    "spearman": "symmetric pairs, (column sum + row sum) / (a + b)",
}
# The counts follow disentanglement_lib's config/unsupervised_study_v1/metric_configs/*.gin (mig, sap_score,
# modularity_explicitness; dci as in abstract_reasoning_study_v1) and its evaluation code: every metric draws its
# points from a RandomState of evaluation.random_seed = 0, train points before test points, so MIG, SAP, DCI and
# modularity/explicitness read the same 10,000 training points (and the same 5,000 test points). udr_sklearn has no
# default count: its only shipped config (config/tests/methods/udr/udr.gin) samples 1,000 points in batches of 10.
SCORE_PROTOCOLS: dict[str, dict[str, Any]] = {
    "reference": {
        "codes": "fresh",  # a dataset without an oracle (or a label-conditioned encoder) falls back to "stored"
        "seed": 0,  # the library's evaluation.random_seed, the same draws for every trial
        "classifier": "liblinear-ovr",
        "mig": {"points": 10_000},
        "sap": {"train_points": 10_000, "test_points": 5_000},
        "modularity": {"points": 10_000},  # the training points only, as the library
        "explicitness": {"train_points": 10_000, "test_points": 5_000},
        "dci": {"train_points": 10_000, "test_points": 5_000},
        "udr": {"correlation": "lasso", "points": 1_000},
        "stored_rows": 15_000,  # the fallback: latent rows the code scores read, split 2/3 - 1/3
    },
    "quick": {
        "codes": "stored",
        "seed": "trial",  # the trial's own seed draws the rows and splits
        "classifier": "lbfgs",
        "udr": {"correlation": "spearman", "points": "stored"},
        "stored_rows": 3_000,
    },
}
CODE_TRAIN_FRACTION = 2 / 3  # stored codes: SAP's and explicitness's training share (10,000 of the reference's 15,000)
DCI_TRAIN_FRACTION = 0.8  # stored codes: DCI's training share of its rows


def draws_fresh(setting: str, has_oracle: bool) -> bool:
    """Whether a setting scores fresh oracle samples for a dataset (with an oracle or not)."""
    return SCORE_PROTOCOLS[setting]["codes"] == "fresh" and has_oracle


def score_protocol(
    setting: str, has_oracle: bool, regressor: str = DCI_REGRESSOR, dci_samples: int = DCI_SAMPLES
) -> dict[str, dict[str, Any]]:
    """What each score of a setting uses for a dataset with or without an oracle: {score: {codes, seed, counts..}}."""
    if setting not in SCORE_PROTOCOLS:
        raise ValueError(f"score setting {setting!r}: choose one of {', '.join(SCORE_PROTOCOLS)}")
    protocol, counts = SCORE_PROTOCOLS[setting], SCORE_SETTINGS[setting]
    fresh = draws_fresh(setting, has_oracle)
    codes = {"codes": "fresh" if fresh else "stored", "seed": protocol["seed"] if fresh else "trial"}
    if fresh:
        described = {name: {**codes, **protocol[name]} for name in ("mig", *CODE_SCORES, "dci")}
    else:
        rows, split = protocol["stored_rows"], round(CODE_TRAIN_FRACTION, 4)
        described = {
            "mig": {**codes, "points": "the stored validation latents", "computed": "during training"},
            "sap": {**codes, "rows": rows, "train_fraction": split},
            "modularity": {**codes, "rows": rows},
            "explicitness": {**codes, "rows": rows, "train_fraction": split},
            "dci": {**codes, "rows": dci_samples, "train_fraction": DCI_TRAIN_FRACTION},
        }
    described["dci"]["regressor"] = regressor
    described["explicitness"]["classifier"] = protocol["classifier"]
    oracle = {"codes": "fresh", "seed": protocol["seed"]} if has_oracle else {"codes": None}
    sizes = {"batch_size": counts["batch_size"], "train_points": counts["num_train"], "eval_points": counts["num_eval"]}
    described["beta_vae"] = {**oracle, **sizes, "classifier": protocol["classifier"]}
    described["factor_vae"] = {**oracle, **sizes, "variance_points": counts["num_variance_estimate"]}
    udr = protocol["udr"]
    described["udr"] = {
        **codes,
        "correlation": udr["correlation"],
        "aggregate": UDR_AGGREGATES[udr["correlation"]],
        "points": udr["points"] if fresh else "the validation samples every seed stored",
        "kl_threshold": UDR_KL_THRESHOLD,
    }
    return described
