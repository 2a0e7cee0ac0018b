"""The disentanglement methods of Locatello et al. 2019 beyond the beta-VAE (vaemodels/models.py): one module each.

Their registry entries (keys, defaults, search ranges, loss terms) are in vaemodels/architectures.py.
"""
