"""The one list of metric names, thresholds and defaults: what computes, stores, shows or ranks a metric reads it here.

Light on purpose (no numpy, no scikit-learn): the command line's parser and the explorer's labels import it.
"""

from __future__ import annotations

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
# What `latentsweep metrics --only` recomputes: DCI's three columns, each score, UDR's two.
RECOMPUTABLE = ("dci", *SCORE_KEYS, "udr")
SCORE_SETTING = "quick"  # a sweep's default; a study's full run: "reference"

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
