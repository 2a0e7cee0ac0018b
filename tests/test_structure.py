"""The shape of the code: a registry that plugins extend, a light command line, one public surface, no circles."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import vaemodels
from vaemodels import ARCHITECTURES, CONFIG_KEYS, ArchKey, ArchSpec, RegistryError, register_architecture

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "sklearn", "pyarrow", "ray")
PACKAGES = ("vaemodels", "sweeps", "explorer")


def imports_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running code."""
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))


@pytest.mark.parametrize("argv", [["--help"], ["sweep", "--help"], ["train", "--help"], ["explore", "--help"]])
def test_help_imports_no_heavy_module(argv):
    code = f"from vaemodels.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert imports_after(code) == []


def test_a_mistake_is_one_line_on_stderr_with_exit_2():
    for argv, names in (
        (["sweep", "--betas", "1,4", "--beta-range", "1", "4"], ("--betas", "--beta-range")),
        (["sweep", "--betas", "1,4", "--num-samples", "3"], ("--betas", "--num-samples")),
        (["sweep", "--preset", "original-grid", "--seed", "3"], ("original-grid", "--seed")),
        (["sweep", "--archs", "vae", "--classifier-on", "z"], ("--classifier-on", "--archs")),
        (["train", "--arch", "vae", "--classifier-weight", "2", "--out", "x"], ("classifier_weight", "branched")),
        (["sweep", "--latent-dimz", "2"], ("--latent-dimz",)),
    ):
        done = subprocess.run([sys.executable, "-m", "vaemodels.cli", *argv], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 2, (argv, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"latentsweep {argv[0]}: "), done.stderr
        assert all(name in lines[0] for name in names), lines[0]


def test_every_architecture_key_is_unique_across_the_registry():
    owned = [key.name for spec in ARCHITECTURES.values() for key in spec.keys]
    assert len(owned) == len(set(owned))
    assert set(CONFIG_KEYS) >= set(owned) and len(CONFIG_KEYS) == len(set(CONFIG_KEYS))
    taken = ArchKey("classifier_weight", float, 1.0, "a key branched already owns")
    with pytest.raises(RegistryError, match=r"classifier_weight.*branched"):
        register_architecture(ArchSpec("clash", "vaemodels.models:VAE", "clashes", keys=(taken,)))
    with pytest.raises(RegistryError, match="already registered"):
        register_architecture(ArchSpec("vae", "vaemodels.models:VAE", "again"))
    assert "clash" not in ARCHITECTURES


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    """Every import a module runs, at its top or inside a function; not those only type checkers see."""
    found, todo = [], [ast.parse(path.read_text())]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in _imports(path):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_sweeps_explorer_and_benchmarks_import_only_the_public_surface():
    private, unknown = [], []
    for folder in ("sweeps", "explorer", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):  # subpackages too
            for node in _imports(path):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vaemodels."):
                    private.append(f"{path.name}: from {node.module} import ...")
                elif isinstance(node, ast.ImportFrom) and node.module == "vaemodels":
                    unknown += [f"{path.name}: {a.name}" for a in node.names if a.name not in vaemodels.__all__]
                elif isinstance(node, ast.Import):
                    private += [f"{path.name}: import {a.name}" for a in node.names if a.name.startswith("vaemodels.")]
    assert private == [] and unknown == []
    for name in vaemodels.__all__:  # every public name resolves
        assert getattr(vaemodels, name) is not None, name


def test_packages_depend_one_way_and_only_sweeps_imports_ray():
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            modules = {m.split(".")[0] for m in _imported_modules(path)}
            others = {"vaemodels": {"sweeps", "explorer"}, "sweeps": {"explorer"}, "explorer": {"sweeps"}}[package]
            assert not modules & others, f"{path}: imports {modules & others}"
            if package != "sweeps":
                assert "ray" not in modules, f"{path} imports ray"


def test_test_modules_import_no_other_test_module_and_fixtures_come_from_conftest():
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        text = path.read_text()
        found += [f"{path.name}: {m}" for m in _imported_modules(path) if m.split(".")[-1].startswith("test_")]
        found += [f"{path.name}: noqa {code}" for code in ("F401", "F811") if f"noqa: {code}" in text]
    assert found == [], "\n".join(found)


def test_no_package_has_an_import_cycle():
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            graph[name] = {
                m for m in _imported_modules(path) if m in graph or (ROOT / (m.replace(".", "/") + ".py")).exists()
            }
    graph = {name: {m for m in targets if m != name and not m.endswith("__init__")} for name, targets in graph.items()}

    def cycle_from(start: str, node: str, seen: tuple[str, ...]) -> tuple[str, ...] | None:
        for target in graph.get(node, ()):
            if target == start:
                return (*seen, target)
            if target not in seen and (found := cycle_from(start, target, (*seen, target))):
                return found
        return None

    cycles = [found for name in graph if (found := cycle_from(name, name, (name,)))]
    assert cycles == [], cycles[0]


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_each_entry_names_the_loss_terms_and_plateau_metric_its_model_reports(arch):
    import torch

    from vaemodels import TrialConfig, create_model, evaluate, load_dataset

    config = TrialConfig.from_dict({"arch": arch, "dataset": "shapes", "image_size": 32, "n_samples": 40})
    data = load_dataset(config)
    terms = evaluate(config, create_model(config), data, data.val_idx, torch.device("cpu"))
    spec = ARCHITECTURES[arch]
    assert set(terms) - {"kl_per_dim"} == {"total", "recon", "kl", *spec.loss_terms}
    assert spec.plateau_monitor == "loss" or spec.plateau_monitor.removeprefix("val_") in terms


# ---- a plugin architecture, registered through an entry point -----------------------------------------------------


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """An environment whose PYTHONPATH holds tests/plugin and a dist-info naming it in latentsweep.architectures."""
    site = tmp_path_factory.mktemp("plugin-site")
    info = site / "toy_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[latentsweep.architectures]\ntoy_vae = toy_arch:SPEC\n\n[latentsweep.datasets]\ntoy_noise = toy_data:SPEC\n"
    )
    path = os.pathsep.join([str(site), str(ROOT / "tests" / "plugin"), str(ROOT)])
    return {**os.environ, "PYTHONPATH": path, "RAY_ADDRESS": "", "PYTHONUNBUFFERED": "1"}


def run(env, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, cwd=ROOT, timeout=400)


def test_a_plugin_key_appears_in_train_help_and_in_the_optuna_space(plugin_env):
    helped = run(plugin_env, "-m", "vaemodels.cli", "train", "--help")
    assert "--toy-temperature" in helped.stdout and "arch=toy_vae only" in " ".join(helped.stdout.split())
    probe = (
        "import json, optuna\n"
        "from sweeps.settings import make_settings\nfrom sweeps.space import SearchSpace\n"
        "space = SearchSpace(make_settings('quick', {'archs': ('toy_vae',)}, {}))\n"
        "trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()\n"
        "space(trial)\nprint(json.dumps(trial.params))"
    )
    params = json.loads(run(plugin_env, "-c", probe).stdout.strip().splitlines()[-1])
    assert params["arch"] == "toy_vae" and params["toy_temperature"] in (0.5, 2.0)


def test_a_plugin_dataset_trains_with_no_edit_to_the_project(plugin_env, tmp_path):
    out = tmp_path / "trial"
    flags = ["--dataset", "toy_noise", "--latent-dim", "2", "--epochs", "1", "--n-samples", "60", "--out", str(out)]
    done = run(plugin_env, "-m", "vaemodels.cli", "train", *flags)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "toy_noise: 48 train / 12 val" in done.stdout


@pytest.mark.slow
def test_a_plugin_architecture_sweeps_into_config_json_and_trials_parquet(plugin_env, tmp_path):
    flags = ["--archs", "toy_vae", "--num-samples", "1", "--latent-dims", "2", "--dataset", "shapes"]
    flags += [
        "--image-size",
        "32",
        "--n-samples",
        "200",
        "--epochs",
        "1",
        "--embed-samples",
        "50",
        "--dci-samples",
        "0",
    ]
    done = run(plugin_env, "-m", "vaemodels.cli", "sweep", *flags, "--storage", str(tmp_path), "--name", "plug")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = pd.read_parquet(tmp_path / "plug" / "trials.parquet")
    row = table.iloc[0]
    assert row["status"] == "TERMINATED" and row["arch"] == "toy_vae" and row["toy_temperature"] in (0.5, 2.0)
    config = json.loads((tmp_path / "plug" / row["checkpoint_path"] / "config.json").read_text())
    assert config["toy_temperature"] == row["toy_temperature"]
