"""Network bodies: an encoder trunk (image -> flat features) and a decoder (vector -> image logits).

Two bodies share one interface so every architecture can use either:
- `conv`: stride-2 convolutions until the feature map is at most 8x8 (28 -> 7, 32 -> 8, 64 -> 8).
- `original`: the original project's 28x28 Keras network, ported exactly.
- `disentanglement_lib`: the 64x64 convolutional encoder and decoder of Locatello et al. 2019's study.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Keras defaults that differ from PyTorch's.
KERAS_LEAKY_SLOPE = 0.3
KERAS_BN = {"momentum": 0.01, "eps": 1e-3}


@dataclass(frozen=True)
class Body:
    """An encoder trunk and a decoder built for one input shape."""

    encoder: nn.Module  # (B, C_in, H, W) -> (B, features)
    features: int
    decoder: nn.Module  # (B, decoder_in) -> (B, C_out, H, W) logits


def conv_body(in_channels: int, out_channels: int, image_size: int, decoder_in: int) -> Body:
    """The default body; its depth adapts to the input size."""
    widths, size = [], image_size
    while size > 8:
        if size % 2:
            raise ValueError(f"image_size={image_size} cannot be halved down to 8 or less")
        widths.append(min(32 * 2 ** len(widths), 128))
        size //= 2
    encoder_layers: list[nn.Module] = []
    channels = in_channels
    for width in widths:
        encoder_layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.SiLU()]
        channels = width
    encoder = nn.Sequential(*encoder_layers, nn.Flatten(), nn.Linear(channels * size * size, 256), nn.SiLU())

    decoder_layers: list[nn.Module] = [
        nn.Linear(decoder_in, 256),
        nn.SiLU(),
        nn.Linear(256, channels * size * size),
        nn.SiLU(),
        nn.Unflatten(1, (channels, size, size)),
    ]
    for width in reversed([out_channels, *widths[:-1]]):
        decoder_layers += [nn.ConvTranspose2d(channels, width, 4, stride=2, padding=1), nn.SiLU()]
        channels = width
    decoder = nn.Sequential(*decoder_layers[:-1])  # no activation on the output logits
    return Body(encoder, 256, decoder)


def original_body(in_channels: int, out_channels: int, image_size: int, decoder_in: int) -> Body:
    """The original project's network: valid-padding convs, Keras BatchNorm, LeakyReLU(0.3), 28x28 only."""
    if image_size != 28:
        raise ValueError(f"net='original' is the original 28x28 network; image_size={image_size} is not 28")
    encoder = nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, stride=2),  # (B, 32, 13, 13): 'valid' padding
        nn.BatchNorm2d(32, **KERAS_BN),
        nn.LeakyReLU(KERAS_LEAKY_SLOPE),
        nn.Conv2d(32, 64, 3, stride=2),  # (B, 64, 6, 6)
        nn.BatchNorm2d(64, **KERAS_BN),
        nn.LeakyReLU(KERAS_LEAKY_SLOPE),
        nn.Flatten(),  # (B, 2304)
    )
    decoder = nn.Sequential(
        nn.Linear(decoder_in, 7 * 7 * 32),
        nn.ReLU(),
        nn.Unflatten(1, (32, 7, 7)),
        # stride-2 'same' transposed conv in Keras == padding 1, output_padding 1 here
        nn.ConvTranspose2d(32, 64, 3, stride=2, padding=1, output_padding=1),  # (B, 64, 14, 14)
        nn.BatchNorm2d(64, **KERAS_BN),
        nn.LeakyReLU(KERAS_LEAKY_SLOPE),
        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),  # (B, 32, 28, 28)
        nn.BatchNorm2d(32, **KERAS_BN),
        nn.LeakyReLU(KERAS_LEAKY_SLOPE),
        nn.ConvTranspose2d(32, out_channels, 3, stride=1, padding=1),  # (B, C, 28, 28), linear output
    )
    return Body(encoder, 64 * 6 * 6, decoder)


def disentanglement_lib_body(in_channels: int, out_channels: int, image_size: int, decoder_in: int) -> Body:
    """disentanglement_lib's conv_encoder and deconv_decoder (methods/shared/architectures.py; Higgins et al. 2017,
    table 1, row 3), layer for layer; its initialisation is the library's with init=reference. TensorFlow's 'same'
    padding is padding 1 for the 4x4 stride-2 layers and 0 for the 2x2 ones. Its decoder reshapes 1024 units as
    4x4x64 (channels last) where this one reads 64x4x4: the same layer up to a permutation of its units."""
    if image_size != 64:
        raise ValueError(f"net='disentanglement_lib' is a 64x64 network; image_size={image_size} is not 64")
    encoder = nn.Sequential(
        nn.Conv2d(in_channels, 32, 4, stride=2, padding=1),  # (B, 32, 32, 32)
        nn.ReLU(),
        nn.Conv2d(32, 32, 4, stride=2, padding=1),  # (B, 32, 16, 16)
        nn.ReLU(),
        nn.Conv2d(32, 64, 2, stride=2),  # (B, 64, 8, 8)
        nn.ReLU(),
        nn.Conv2d(64, 64, 2, stride=2),  # (B, 64, 4, 4)
        nn.ReLU(),
        nn.Flatten(),  # (B, 1024)
        nn.Linear(1024, 256),
        nn.ReLU(),
    )
    decoder = nn.Sequential(
        nn.Linear(decoder_in, 256),
        nn.ReLU(),
        nn.Linear(256, 1024),
        nn.ReLU(),
        nn.Unflatten(1, (64, 4, 4)),
        nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1),  # (B, 64, 8, 8)
        nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),  # (B, 32, 16, 16)
        nn.ReLU(),
        nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1),  # (B, 32, 32, 32)
        nn.ReLU(),
        nn.ConvTranspose2d(32, out_channels, 4, stride=2, padding=1),  # (B, C, 64, 64) logits
    )
    return Body(encoder, 256, decoder)


def glorot_init(module: nn.Module) -> None:
    """TF1's tf.layers and Keras' initialisation: glorot-uniform kernels, zero biases (Glorot & Bengio 2010, eq. 16:
    U(-b, b), b = sqrt(6 / (fan_in + fan_out))). A transposed convolution's fans are its convolution's, swapped:
    their sum, all that glorot reads, is the same."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


def glorot_init_halves(layer: nn.Linear, parts: int = 2) -> None:
    """glorot_init for a Linear that fuses `parts` layers of equal width (the encoder's mean and log-variance
    heads): each block of rows gets its own layer's bound, sqrt(6 / (fan_in + out_features / parts))."""
    for block in layer.weight.data.chunk(parts, dim=0):  # views: initialised in place
        nn.init.xavier_uniform_(block)
    nn.init.zeros_(layer.bias)


def classifier_head(in_features: int, num_classes: int) -> nn.Sequential:
    """The original's classifier branch: dense 128 -> 64 -> classes (logits; softmax lives in the loss)."""
    return nn.Sequential(
        nn.Linear(in_features, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, num_classes),
    )


BODIES = {"conv": conv_body, "original": original_body, "disentanglement_lib": disentanglement_lib_body}


def build_body(net: str, in_channels: int, out_channels: int, image_size: int, decoder_in: int) -> Body:
    """Build the body named by the `net` config key."""
    return BODIES[net](in_channels, out_channels, image_size, decoder_in)


def tile_labels(one_hot: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, K) one-hot -> (B, K, H, W): the label as extra image channels, as the original did."""
    return one_hot[:, :, None, None].expand(-1, -1, image_size, image_size)
