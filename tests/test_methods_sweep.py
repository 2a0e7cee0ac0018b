"""The methods in real sweeps on a local Ray: every method for one epoch, and the study preset's quick version;
and the full study preset's plan, printed before anything starts."""

import pandas as pd
import pytest
import yaml

from vaemodels import ARCHITECTURES

pytestmark = pytest.mark.slow
METHODS = ["vae", "beta_tcvae", "factor_vae", "dip_vae", "annealed_vae"]
TINY = ["--dataset", "shapes", "--image-size", "32", "--n-samples", "400", "--dci-samples", "0"]


def test_every_method_trains_in_a_sweep_and_its_terms_reach_the_table(ray_session, tmp_path):
    from vaemodels.cli import main

    flags = ["--name", "methods", "--archs", ",".join(METHODS), "--betas", "1", "--latent-dims", "3", "--epochs", "1"]
    assert main(["sweep", *flags, *TINY, "--storage", str(tmp_path)]) == 0
    table = pd.read_parquet(tmp_path / "methods" / "trials.parquet").set_index("arch")
    assert sorted(table.index) == sorted(METHODS) and (table["status"] == "TERMINATED").all()
    for arch in METHODS:
        for term in ARCHITECTURES[arch].loss_terms:
            assert pd.notna(table.loc[arch, f"val_{term}"]), (arch, term)
    assert table.loc["vae", "beta"] == 1.0 and table.drop(index="vae")["beta"].isna().all()


def test_the_study_presets_quick_version_runs_two_methods_two_values_two_seeds(ray_session, tmp_path, capsys):
    from vaemodels.cli import main

    assert main(["sweep", "--preset", "disentanglement-study", "--quick", "--storage", str(tmp_path)]) == 0
    table = pd.read_parquet(tmp_path / "disentanglement-study-quick" / "trials.parquet")
    assert len(table) == 8 and (table["status"] == "TERMINATED").all()
    assert table.groupby("arch").size().to_dict() == {"beta_tcvae": 4, "dip_vae": 4}
    assert set(table["seed"]) == {0, 1} and (table["epochs_trained"] >= 1).all()
    stored = yaml.safe_load((tmp_path / "disentanglement-study-quick" / "sweep.yaml").read_text())
    assert stored["fixed"]["max_steps"] == 200 and "confirm" not in stored
    assert (stored["scores"], stored["dci_regressor"]) == ("quick", "random_forest")  # --quick: the fast settings
    # Each configuration has two seeds: a trial's UDR rests on its one pair (none where a model has no active dim).
    assert set(table["udr_pairs"]) <= {0, 1} and table.loc[table["udr_pairs"] == 1, "udr"].between(0, 1).all()
    assert table["sap"].between(0, 1).all() and table["factor_vae"].between(0, 1).all()
    assert "is a large sweep" not in capsys.readouterr().err


def test_the_full_study_prints_its_plan_and_waits_for_yes(tmp_path, capsys):
    from vaemodels.cli import main

    command = ["sweep", "--preset", "disentanglement-study", "--dataset", "shapes", "--storage", str(tmp_path)]
    assert main(command) == 2
    printed = capsys.readouterr()
    assert "disentanglement-study: 180 trials into" in printed.out
    assert "vae 30, annealed_vae 30, factor_vae 30, dip_vae 60, beta_tcvae 30" in printed.out
    assert "300,000 steps of 64 images a trial" in printed.out and "compute: about" in printed.out
    assert "pass --yes to start it" in printed.err and not (tmp_path / "disentanglement-study").exists()
