"""trials.parquet written by hand: rows a test chooses, with the metadata a sweep of given settings writes."""

from __future__ import annotations

from vaemodels import frame_from_rows, resolve, write_trials_table


def write_sweep_table(folder, rows: list[dict], settings) -> None:
    """Write `folder`/trials.parquet holding `rows`, as a sweep made with `settings` (sweeps.settings) leaves it."""
    metadata = {"settings": settings.to_json(), "metric": settings.metric, "mode": settings.mode}
    write_trials_table(resolve(str(folder)), frame_from_rows(rows), metadata)


def study_rows() -> list[dict]:
    """Two beta-VAE betas and two beta-TCVAE weights, three seeds each; mig rises with the weight, and
    dci_disentanglement is mig's rank order exactly, active_units its reverse."""
    rows = []
    for arch, key, values in (("vae", "beta", (1.0, 4.0)), ("beta_tcvae", "tc_weight", (2.0, 6.0))):
        for value in values:
            for seed in range(3):
                mig = value / 10 + seed / 100
                rows.append({"trial_id": f"{arch}-{value}-{seed}", "status": "TERMINATED", "arch": arch, key: value,
                             "latent_dim": 4, "seed": seed, "data_seed": 0, "mig": mig, "dci_disentanglement": mig**2,
                             "active_units": -mig, "best_loss": 100 - mig})  # fmt: skip
    rows.append({"trial_id": "broken", "status": "ERROR", "arch": "vae", "beta": 1.0, "seed": 9, "mig": 5.0})
    return rows
