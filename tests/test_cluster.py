"""latentsweep on a Ray cluster: the launcher configs, a multi-node sweep, storage only the head sees, `ray job submit`.

The configs go through Ray's own offline validation (`prepare_config` + `validate_config`, what `ray up` runs before
it calls the cloud). The cluster tests run several Ray nodes on this machine (`ray.cluster_utils.Cluster`), one of
them declaring a fake GPU, and stop every process they start by its handle.
"""

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from tests.helpers.datasets import write_factor_grid
from tests.helpers.processes import free_port

REPO = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).with_name("ray"))
CLOUD, ONPREM = REPO / "ray_cluster.yaml", REPO / "ray_cluster.onprem.yaml"
TINY = ["--preset", "quick", "--n-samples", "400", "--epochs", "2"]
SHAPES = ["--dataset", "shapes", "--image-size", "32"]
TINY += ["--latent-dims", "2,3", "--num-samples", "6", "--dci-samples", "0"]  # DCI has its own tests
JOB_EXCLUDES = [".venv", "results", "test-artifacts"]  # the same list as the README's `ray job submit`


def _prepared(path: Path) -> dict:
    """The config as `ray up` sees it after its offline steps (defaults filled in, node types made explicit)."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(yaml.safe_load(path.read_text())))
    validate_config(prepared)  # jsonschema against ray-schema.json, plus Ray's own cross-field checks
    return prepared


def _dependency(name: str):
    """The requirement on `name` in pyproject.toml."""
    import tomllib

    from packaging.requirements import Requirement

    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(Requirement(line) for line in dependencies if Requirement(line).name == name)


# --- the cluster-launcher configs (offline) -------------------------------------------------------------------------


def test_cloud_config_has_a_cpu_head_and_autoscaling_gpu_workers():
    config = _prepared(CLOUD)
    assert config["provider"]["type"] == "aws"
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    workers = [node for name, node in config["available_node_types"].items() if name != config["head_node_type"]]
    gpu_workers = [node for node in workers if node["resources"].get("GPU", 0) >= 1 and node["resources"]["CPU"] >= 1]
    assert gpu_workers, "no worker type declares CPUs and a GPU"
    assert all(0 <= node["min_workers"] < node["max_workers"] <= config["max_workers"] for node in gpu_workers)


def test_onprem_config_uses_the_local_provider_without_node_types():
    raw = yaml.safe_load(ONPREM.read_text())
    assert raw["provider"]["type"] == "local" and "available_node_types" not in raw
    assert raw["provider"]["head_ip"] and raw["provider"]["worker_ips"]
    config = _prepared(ONPREM)  # Ray derives the single node type itself
    assert len(config["available_node_types"]) == 1


@pytest.mark.parametrize("path", [CLOUD, ONPREM], ids=["cloud", "onprem"])
def test_every_node_gets_this_project_with_pinned_torch_and_ray(path):
    import ray

    config = _prepared(path)
    project = next(remote for remote, local in config["file_mounts"].items() if local == ".")  # the repository root
    assert {".venv", "results"} <= set(config["rsync_exclude"])  # never a virtualenv or old results over SSH
    for node_commands in (config["head_setup_commands"], config["worker_setup_commands"]):
        installs = " ".join(node_commands)
        assert f"pip install -q -e {project}" in installs
        assert f'"ray[default,tune]=={ray.__version__}"' in installs  # `ray up` wants the cluster's ray = this one
        pinned_torch = installs.split('"torch==', 1)[1].split('"', 1)[0]
        assert pinned_torch in _dependency("torch").specifier  # within the range pyproject.toml allows


@pytest.mark.parametrize("path", [CLOUD, ONPREM], ids=["cloud", "onprem"])
def test_every_node_starts_ray_with_token_auth_and_the_same_token(path):
    config = _prepared(path)
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"  # one token, copied to every node
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 2 and all("RAY_AUTH_MODE=token ray start" in command for command in starts)
    assert any("RAY_AUTH_MODE=token" in command for command in config["setup_commands"])  # drivers and `ray attach`


# --- helpers for the multi-node tests --------------------------------------------------------------------------------


def _port_flags() -> list[str]:
    """Free ports for every listener of a `ray start`, so it never collides with another Ray on this machine."""
    names = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port")
    names += ("metrics-export-port", "runtime-env-agent-port")
    return [f"--{name}={free_port()}" for name in names]  # worker ports: Ray picks free ones itself


def _stop(process: subprocess.Popen, marker: str | None = None) -> None:
    """Stop a `ray start --block` we started (it stops its node), then any process of ours still naming `marker`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    for pid in _pids_mentioning(marker) if marker else []:
        os.kill(pid, signal.SIGKILL)


def _pids_mentioning(marker: str) -> list[int]:
    """Processes whose command line holds `marker` (a temp dir this test made, so only processes it started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _most_trials_at_once(sweep_dir: Path) -> int:
    """Most trials running at one time, from Ray's per-trial start and last-result times in the experiment state."""
    state = json.loads(next(sweep_dir.glob("experiment_state-*.json")).read_text())
    events = []
    for _, run_metadata in state["trial_data"]:
        metadata = json.loads(run_metadata)
        events += [(metadata["start_time"], 1), (metadata["last_result_time"], -1)]
    running = most = 0
    for _, change in sorted(events):
        running += change
        most = max(most, running)
    return most


# --- a sweep on a head (0 CPUs) and two 1-CPU workers, one with a fake GPU -------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()  # another module's local Ray (the ray_session fixture): this module connects to a cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    cpu_node = cluster.add_node(num_cpus=1)
    gpu_node = cluster.add_node(num_cpus=1, num_gpus=1)
    ray.init(address=cluster.address, log_to_driver=False)  # the in-process sweep reuses this connection
    cluster.wait_for_nodes()
    yield SimpleNamespace(address=cluster.address, cpu_node=cpu_node.node_id, gpu_node=gpu_node.node_id)
    ray.shutdown()
    cluster.shutdown()


def _sweep(cluster, storage: Path, name: str, *flags: str, data: tuple[str, ...] = tuple(SHAPES)) -> Path:
    from vaemodels.cli import main

    command = ["sweep", *TINY, *data, "--name", name, "--storage", str(storage), "--address", cluster.address, *flags]
    assert main(command) == 0
    return storage / name


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-storage")


@pytest.fixture(scope="module")
def cpu_sweep(cluster, storage, tmp_path_factory):
    # A dataset file of the user's own, which the workers find from the sweep's record (no variable is set).
    data_file = write_factor_grid(tmp_path_factory.mktemp("data") / "cluster_grid.npz", grid=(4, 10, 10), size=32)
    return _sweep(cluster, storage, "cpu", "--max-concurrent", "2", data=("--dataset-file", str(data_file)))


@pytest.fixture(scope="module")
def gpu_sweep(cluster, storage):
    # Half a GPU and half a CPU a trial: the GPU node (1 CPU, 1 GPU) holds two trials at once.
    return _sweep(cluster, storage, "gpu", "--gpus-per-trial", "0.5", "--cpus-per-trial", "0.5")


@pytest.mark.slow
def test_cpu_sweep_runs_on_both_workers(cluster, cpu_sweep):
    table = pd.read_parquet(cpu_sweep / "trials.parquet")
    assert len(table) == 6 and (table["status"] == "TERMINATED").all()
    assert set(table["node"]) == {cluster.cpu_node, cluster.gpu_node}  # never the 0-CPU head
    assert (table["dataset"] == "cluster_grid").all() and "LATENTSWEEP_DATASETS" not in os.environ
    assert (table["device"] == "cpu").all()


@pytest.mark.slow
def test_gpu_sweep_packs_two_trials_on_the_gpu_node_and_falls_back_to_cpu(cluster, gpu_sweep):
    table = pd.read_parquet(gpu_sweep / "trials.parquet")
    assert len(table) == 6 and (table["status"] == "TERMINATED").all()
    assert set(table["node"]) == {cluster.gpu_node}
    assert (table["device"] == "cpu").all()  # Ray assigned a GPU, CUDA is absent: the trial trained on CPU
    # 0.5 GPU each on one GPU: never three at once. (Two overlap when the machine is quiet; on a loaded one the
    # 2-epoch trials can finish before the next reports, so exactly two is not asserted.)
    assert 1 <= _most_trials_at_once(gpu_sweep) <= 2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cpu_sweep", "gpu_sweep"])
def test_every_checkpoint_and_latents_file_is_under_the_storage_path(name, request):
    import ray

    sweep_dir = request.getfixturevalue(name)
    table = pd.read_parquet(sweep_dir / "trials.parquet")
    for row in table.itertuples():
        for relative in (row.checkpoint_path, row.latents_path, row.last_checkpoint_path):
            assert not Path(relative).is_absolute() and (sweep_dir / relative).exists(), (row.trial_id, relative)
        checkpoints = sorted((sweep_dir / row.trial_id).glob("checkpoint_*"))
        kept = {Path(row.checkpoint_path).name, Path(row.last_checkpoint_path).name}  # the best and the last
        assert {c.name for c in checkpoints} == kept
        assert all((c / "model.pt").exists() and (c / "config.json").exists() for c in checkpoints)
        assert not any((c / "optimizer.pt").exists() for c in checkpoints)  # dropped once the trial finished
    local = Path(ray._private.worker._global_node.get_session_dir_path())  # node-local disk of this Ray cluster
    assert not [*local.rglob("model.pt"), *local.rglob("latents.parquet")]  # nothing stayed behind on a node


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cpu_sweep", "gpu_sweep"])
def test_best_works_on_a_cluster_sweep(name, request, capsys):
    from vaemodels.cli import main

    sweep_dir = request.getfixturevalue(name)
    table = pd.read_parquet(sweep_dir / "trials.parquet")
    assert main(["best", str(sweep_dir), "--top", "3"]) == 0
    winner = table.loc[table["best_loss"].idxmin(), "trial_id"]
    assert f"best trial {winner}" in capsys.readouterr().out


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
def test_storage_only_the_head_sees_stops_with_a_clear_message(cluster, tmp_path, capsys):
    """A worker node in its own mount namespace, with an empty tmpfs over the storage path: the path exists on the
    head only, as a local disk of a cloud head does. Only that node has 2 CPUs, so the trial runs there."""
    import ray

    from vaemodels.cli import main

    if not _unshare_works():
        pytest.skip("needs `unshare --mount` (root) to hide the storage path from one node")
    head_only = tmp_path / "head-only"
    head_only.mkdir()
    start = f"mount -t tmpfs hidden {head_only} && exec {RAY} start --address={cluster.address} --num-cpus=2 --block"
    start += " " + " ".join(_port_flags())
    worker = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", start],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not any(n["Alive"] and n["Resources"].get("CPU") == 2 for n in ray.nodes()):
            assert worker.poll() is None and time.monotonic() < deadline, "the worker node did not join"
            time.sleep(0.5)
        flags = ["--name", "unshared", "--num-samples", "1", "--epochs", "1", "--cpus-per-trial", "2"]
        code = main(["sweep", *TINY, *SHAPES, *flags, "--storage", str(head_only), "--address", cluster.address])
    finally:
        _stop(worker)
    error = capsys.readouterr().err
    assert code == 2
    assert f"cannot see the sweep folder {head_only / 'unshared'}" in error
    assert "shared storage" in error and "s3://" in error


# --- `ray job submit --working-dir .` against a head started with `ray start --head` ----------------------------------


@pytest.fixture(scope="module")
def job_head():
    temp_dir = tempfile.mkdtemp(prefix="lsray-", dir="/tmp")  # short: Ray's socket paths live below it
    dashboard = free_port()
    command = [RAY, "start", "--head", "--block", f"--temp-dir={temp_dir}", "--num-cpus=2", "--disable-usage-stats"]
    command += [f"--port={free_port()}", f"--dashboard-port={dashboard}", "--dashboard-host=127.0.0.1"]
    command += [f"--ray-client-server-port={free_port()}", "--include-dashboard=true", *_port_flags()]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # RAY_AUTH_MODE and the token stay
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    head = subprocess.Popen(command, env=env, start_new_session=True, **quiet)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 120
        while subprocess.run([RAY, "job", "list", "--address", address], env=env, capture_output=True).returncode:
            assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(1)
        yield SimpleNamespace(address=address, temp_dir=Path(temp_dir), env=env)
    finally:
        _stop(head, marker=temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_ray_job_submit_runs_a_sweep_file_that_travels_with_the_working_dir(job_head, tmp_path):
    """A checkout holding the user's own sweep file, shipped with `--working-dir .` as the README's cluster section
    says: the job reads the file by its path relative to the checkout, and flags on the command line override it."""
    checkout = tmp_path / "checkout"
    for package in ("sweeps", "vaemodels"):
        shutil.copytree(REPO / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "studies").mkdir()
    (checkout / "studies" / "tiny.yaml").write_text(
        "name: from-job\nsearch: random\nnum_samples: 4\nparameters:\n  arch: {values: [vae]}\n"
        "  latent_dim: {values: [2]}\nfixed: {dataset: shapes, image_size: 32, n_samples: 400, epochs: 1}\n"
    )
    storage = tmp_path / "job-storage"
    entrypoint = [sys.executable, "sweeps/run.py", "--config", "studies/tiny.yaml", "--num-samples", "2"]
    entrypoint += ["--storage", str(storage), "--dci-samples", "0"]
    submit = [RAY, "job", "submit", "--address", job_head.address, "--working-dir", "."]
    submit += ["--runtime-env-json", json.dumps({"excludes": JOB_EXCLUDES}), "--", *entrypoint]
    done = subprocess.run(submit, cwd=checkout, env=job_head.env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "succeeded" in done.stdout + done.stderr
    table = pd.read_parquet(storage / "from-job" / "trials.parquet")
    assert len(table) == 2 and (table["status"] == "TERMINATED").all()  # --num-samples 2 over the file's 4
    assert set(table["arch"]) == {"vae"} and set(table["latent_dim"]) == {2}
    stored = yaml.safe_load((storage / "from-job" / "sweep.yaml").read_text())
    assert stored["search"] == "random" and stored["num_samples"] == 2
    packages = job_head.temp_dir.glob("session_*/runtime_resources/working_dir_files/_ray_pkg_*")
    uploaded = [folder for folder in packages if folder.is_dir()]
    assert uploaded and all((folder / "studies" / "tiny.yaml").exists() for folder in uploaded)
    assert all((folder / "sweeps" / "run.py").exists() for folder in uploaded)
