"""Reaching Ray for a sweep: an embedded local Ray, or a running cluster; and whether its GPUs can serve the trials."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import optuna
import ray

from sweeps.console import OnceEach
from sweeps.options import RunOptions


def connect(options: RunOptions) -> bool:
    """`local`: a fresh embedded Ray (never a stray cluster); `auto` or a URI joins one; default: $RAY_ADDRESS.

    Returns whether this call started the connection (a Ray already initialised in-process is reused).
    """
    ray_logger = logging.getLogger("ray")
    ray_logger.setLevel(logging.WARNING)
    if not any(isinstance(f, OnceEach) for f in ray_logger.filters):
        ray_logger.addFilter(OnceEach())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Tune's new reporter prints its experiment box even when silent; the old one, at verbose 0, prints nothing.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "1" if options.verbose else "0"
    # Tiny epochs checkpoint often; Tune's advice to checkpoint less is noise for a sweep of small models.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if ray.is_initialized():
        return False
    address = options.address or os.environ.get("RAY_ADDRESS") or "local"
    kwargs = {"include_dashboard": False} if address == "local" else {}
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING, **kwargs)
    return True


def gpus_available(options: RunOptions) -> bool:
    """False when GPUs are asked for and no node has one nor can an autoscaler add one (Tune would wait forever)."""
    if options.gpus_per_trial <= 0:
        return True
    return ray.cluster_resources().get("GPU", 0) > 0 or _autoscaler_adds_gpus()


def _autoscaler_adds_gpus() -> bool:
    """True on a `ray up` head whose autoscaling config declares a GPU node type."""
    bootstrap = Path("~/ray_bootstrap_config.yaml").expanduser()
    if not bootstrap.exists():
        return False
    import yaml

    config = yaml.safe_load(bootstrap.read_text()) or {}
    node_types = (config.get("available_node_types") or {}).values()
    return any((node.get("resources") or {}).get("GPU", 0) > 0 for node in node_types)


GPU_MESSAGE = (
    "latentsweep sweep: --gpus-per-trial {gpus} but no node of this Ray cluster has a GPU and no autoscaler can add "
    "one; use --gpus-per-trial 0, or a cluster with GPU workers (ray_cluster.yaml)"
)
