"""A throwaway architecture registered the way a user's plugin is: an entry point, with no edit to latentsweep.

tests/test_structure.py writes a dist-info folder whose entry_points.txt names `toy_arch:SPEC` in the
`latentsweep.architectures` group and puts it, with this folder, on PYTHONPATH.
"""

from vaemodels import VAE, ArchKey, ArchSpec, TrialConfig

SPEC = ArchSpec(
    "toy_vae",
    "toy_arch:ToyVAE",
    "a beta-VAE whose decoder output is scaled by 1 / toy_temperature",
    keys=(ArchKey("toy_temperature", float, 1.0, "divides the decoder's logits", positive=True, search=(0.5, 2.0)),),
)


class ToyVAE(VAE):
    """A beta-VAE that reads its own key: logits divided by `toy_temperature`."""

    def __init__(self, config: TrialConfig) -> None:
        super().__init__(config)
        self.temperature = config.model.toy_temperature

    def decode(self, z, labels=None):
        return super().decode(z, labels) / self.temperature
