"""`latentsweep metrics --out FILE`: the table it prints, also as CSV or Markdown; a bad FILE is one line."""

import pandas as pd
import pytest

from sweeps.settings import make_settings
from tests.helpers.tables import write_sweep_table
from vaemodels.cli import main

# Finished trials without latents: `--only udr` computes nothing for them, so the command only reads and prints.
ROWS = [
    {"trial_id": f"t{seed}", "status": "TERMINATED", "arch": "vae", "latent_dim": 4, "beta": 1.0, "seed": seed,
     "mig": 0.1 * (seed + 1), "sap": 0.123456789, "checkpoint_path": None, "latents_path": None}
    for seed in range(2)
]  # fmt: skip


@pytest.fixture
def sweep(tmp_path):
    write_sweep_table(tmp_path / "sweep", ROWS, make_settings("quick", {}, {}))
    return str(tmp_path / "sweep")


def test_the_table_goes_to_csv_with_every_digit_and_to_markdown(sweep, tmp_path, capsys):
    assert main(["metrics", sweep, "--only", "udr", "--out", str(tmp_path / "scores.csv")]) == 0
    written = pd.read_csv(tmp_path / "scores.csv")
    assert list(written["trial_id"]) == ["t0", "t1"] and list(written["mig"]) == [0.1, 0.2]
    assert written["sap"][0] == 0.123456789 and "udr" in written
    assert main(["metrics", sweep, "--only", "udr", "--out", str(tmp_path / "scores.md")]) == 0
    lines = (tmp_path / "scores.md").read_text().splitlines()
    assert lines[0].startswith("| trial_id | arch | beta | latent_dim | mig | dci_disentanglement |")
    assert lines[1].startswith("|---|---|") and len(lines) == 4
    assert lines[2].startswith("| t0 | vae | 1 | 4 | 0.1 |  |  |  | 0.1235 |")  # 4 digits; empty where missing
    assert f"wrote {tmp_path / 'scores.md'}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("out", "said"),
    [
        ("scores.txt", "give a .csv or .md file"),
        ("no/such/folder/scores.csv", "does not exist"),
        ("made.csv", "a folder"),
    ],
)
def test_a_bad_out_is_one_line_before_any_work(sweep, tmp_path, capsys, out, said):
    target = str(tmp_path / out)
    (tmp_path / "made.csv").mkdir()
    assert main(["metrics", sweep, "--out", target]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"latentsweep metrics: --out {target}") and said in err[0], err
