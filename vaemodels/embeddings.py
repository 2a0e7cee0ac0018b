"""Latent embeddings: encode validation samples and keep them as a self-describing Parquet file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from vaemodels.config import SCHEMA_VERSION, TrialConfig
from vaemodels.datasets import Dataset
from vaemodels.losses import reconstruction_per_sample
from vaemodels.models import VAE
from vaemodels.shapes import STREAM_EMBED, seeded_rng

ENCODE_BATCH = 1024


def mu_columns(latent_dim: int) -> list[str]:
    """Names of the posterior-mean columns: mu_0 .. mu_{d-1}."""
    return [f"mu_{i}" for i in range(latent_dim)]


def logvar_columns(latent_dim: int) -> list[str]:
    """Names of the posterior log-variance columns."""
    return [f"logvar_{i}" for i in range(latent_dim)]


def embedding_rows(data: Dataset, max_samples: int, data_seed: int) -> torch.Tensor:
    """The validation rows that get encoded: a seeded random `max_samples` of them (0 = all), in sample order."""
    n_val = len(data.val_idx)
    if max_samples <= 0 or max_samples >= n_val:
        return data.val_idx
    # A random subset, not the first rows: val_idx is sorted, so on class-sorted data a prefix misses whole classes.
    # Drawn from the data seed, so trials that differ only in `seed` encode the same samples.
    chosen = np.sort(seeded_rng(data_seed, STREAM_EMBED).choice(n_val, max_samples, replace=False))
    return data.val_idx[torch.from_numpy(chosen).to(data.val_idx.device)]


@torch.no_grad()
def encode(model: VAE, data: Dataset, rows: torch.Tensor | None = None) -> pd.DataFrame:
    """Encode rows of a dataset (default: the validation rows kept by `embed_samples`) into the latents table."""
    config = model.config
    rows = embedding_rows(data, config.data.embed_samples, config.data.data_seed) if rows is None else rows
    device = next(model.parameters()).device
    model.eval()
    mus, logvars, errors = [], [], []
    for start in range(0, len(rows), ENCODE_BATCH):
        index = rows[start : start + ENCODE_BATCH].to(data.images.device)
        x, labels = data.batch(index).to(device), data.labels[index].to(device)
        mu, logvar = model.encode(x, labels)  # (B, z) each
        # The reconstruction term at the posterior mean: deterministic, so a reloaded model reproduces it.
        errors.append(reconstruction_per_sample(model.decode(mu, labels), x, config.model.recon).cpu())
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    positions = rows.cpu().numpy()
    frame = {"sample": data.sample_ids[positions].astype(np.int64), "label": data.labels.cpu()[positions].numpy()}
    frame["label"] = frame["label"].astype(np.int16)
    if data.factors is not None:
        for column, name in enumerate(data.spec.factor_names):
            frame[name] = data.factors[positions, column].astype(np.int16)
    d = config.model.latent_dim
    mu_all = _concat(mus, d)
    logvar_all = _concat(logvars, d)
    frame.update(dict(zip(mu_columns(d), mu_all.T)))
    frame.update(dict(zip(logvar_columns(d), logvar_all.T)))
    frame["recon_error"] = torch.cat(errors).numpy().astype(np.float32) if errors else np.zeros(0, np.float32)
    return pd.DataFrame(frame)


def _concat(parts: list[torch.Tensor], latent_dim: int) -> np.ndarray:
    if not parts:
        return np.zeros((0, latent_dim), np.float32)
    return torch.cat(parts).numpy().astype(np.float32)  # (N, z)


def write_latents(frame: pd.DataFrame, path: str | Path, config: TrialConfig, epoch: int) -> Path:
    """Write the latents table with the trial's config, epoch and schema version as Parquet metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {
        **(table.schema.metadata or {}),
        b"config": json.dumps(config.to_dict()).encode(),
        b"epoch": str(epoch).encode(),
        b"schema_version": str(SCHEMA_VERSION).encode(),
    }
    path = Path(path)
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def read_latents(path: str | Path, columns: list[str] | None = None, filesystem: Any = None) -> pd.DataFrame:
    """Read a latents file (only `columns` when given); local path or a pyarrow filesystem path."""
    return pq.read_table(str(path), columns=columns, filesystem=filesystem).to_pandas()


def latents_metadata(path: str | Path, filesystem: Any = None) -> dict[str, Any]:
    """The key-value metadata of a latents file: config (dict), epoch and schema_version (int)."""
    raw = pq.read_schema(str(path), filesystem=filesystem).metadata or {}
    return {
        "config": json.loads(raw[b"config"]),
        "epoch": int(raw[b"epoch"]),
        "schema_version": int(raw[b"schema_version"]),
    }
