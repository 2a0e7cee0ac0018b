"""A throwaway dataset registered the way a user's plugin is: a `latentsweep.datasets` entry point naming SPEC."""

import numpy as np
import torch

from vaemodels import Dataset, DatasetSpec

SPEC = DatasetSpec(
    "toy_noise",
    channels=1,
    num_classes=2,
    label_description="which half of the rows",
    image_sizes=(16,),
    loader="toy_data:load",
)


def load(spec: DatasetSpec, config, download: bool) -> Dataset:
    """n_samples (default 100) seeded noise images; the first half labelled 0, the rest 1."""
    n = config.data.n_samples or 100
    images = np.random.default_rng(config.data.data_seed).random((n, 1, 16, 16), dtype=np.float32)
    order = np.random.default_rng(config.data.data_seed).permutation(n)
    return Dataset(
        spec=spec,
        images=torch.from_numpy(images),
        labels=torch.from_numpy((np.arange(n) >= n // 2).astype(np.int64)),
        factors=None,
        sample_ids=np.arange(n, dtype=np.int64),
        train_idx=torch.from_numpy(np.sort(order[n // 5 :])),
        val_idx=torch.from_numpy(np.sort(order[: n // 5])),
    )
