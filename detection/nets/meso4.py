"""PyTorch port of MesoNet's Meso-4 (Afchar et al. 2018, github.com/DariusAf/MesoNet,
Apache-2.0) and the importer of its Keras HDF5 weights.

The Keras model (classifiers.py, `Meso4.init_model`):
    Conv2D(8, 3x3, same, relu) -> BatchNorm -> MaxPool 2
    Conv2D(8, 5x5, same, relu) -> BatchNorm -> MaxPool 2
    Conv2D(16, 5x5, same, relu) -> BatchNorm -> MaxPool 2
    Conv2D(16, 5x5, same, relu) -> BatchNorm -> MaxPool 4
    Flatten -> Dropout 0.5 -> Dense 16 -> LeakyReLU 0.1 -> Dropout 0.5 -> Dense 1 sigmoid
Input 256x256 RGB in [0, 1]; the output is the probability that the face is REAL.
The h5 layer shapes confirm it: conv kernels (3,3,3,8), (5,5,8,8), (5,5,8,16), (5,5,16,16),
dense (1024, 16) = 8 x 8 x 16 after the last pool, (16, 1).

Three Keras facts a port must honour: kernels are HWIO (PyTorch wants OIHW), BatchNorm's
epsilon is 1e-3 (PyTorch's default is 1e-5), and Flatten runs over (H, W, C) while
PyTorch's runs over (C, H, W): the first Dense kernel's rows are permuted to match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_SIZE = 256
KERAS_BN_EPSILON = 1e-3
# (Keras layer name in the h5 file, our module attribute) in model order.
_CONVS = (
    ("conv2d_5", "conv1"),
    ("conv2d_6", "conv2"),
    ("conv2d_7", "conv3"),
    ("conv2d_8", "conv4"),
)
_NORMS = (
    ("batch_normalization_5", "bn1"),
    ("batch_normalization_6", "bn2"),
    ("batch_normalization_7", "bn3"),
    ("batch_normalization_8", "bn4"),
)
_DENSES = (("dense_3", "fc1"), ("dense_4", "fc2"))


class Meso4(nn.Module):
    """Meso-4; `forward` returns the LOGIT of "real" (sigmoid of it = the Keras output)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8, eps=KERAS_BN_EPSILON)
        self.conv2 = nn.Conv2d(8, 8, 5, padding=2)
        self.bn2 = nn.BatchNorm2d(8, eps=KERAS_BN_EPSILON)
        self.conv3 = nn.Conv2d(8, 16, 5, padding=2)
        self.bn3 = nn.BatchNorm2d(16, eps=KERAS_BN_EPSILON)
        self.conv4 = nn.Conv2d(16, 16, 5, padding=2)
        self.bn4 = nn.BatchNorm2d(16, eps=KERAS_BN_EPSILON)
        self.dropout = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16 * 8 * 8, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu = nn.functional.relu
        pool = nn.functional.max_pool2d
        x = pool(self.bn1(relu(self.conv1(x))), 2)
        x = pool(self.bn2(relu(self.conv2(x))), 2)
        x = pool(self.bn3(relu(self.conv3(x))), 2)
        x = pool(self.bn4(relu(self.conv4(x))), 4)
        x = self.dropout(torch.flatten(x, 1))
        x = nn.functional.leaky_relu(self.fc1(x), 0.1)
        return self.fc2(self.dropout(x))


def _dataset(h5: object, layer: str, name: str) -> np.ndarray:
    group = h5[layer]  # type: ignore[index]
    # Keras 2 nests weights as <layer>/<layer>/<name>:0; be lenient about the inner name.
    inner = group[layer] if layer in group else group[next(iter(group))]
    return np.asarray(inner[f"{name}:0"], dtype=np.float32)


def state_dict_from_keras_h5(path: str | Path) -> dict[str, torch.Tensor]:
    """Read Meso4 weights from a Keras 2 HDF5 file into a Meso4 state dict."""
    import h5py

    state: dict[str, torch.Tensor] = {}
    with h5py.File(path, "r") as h5:
        for layer, attr in _CONVS:
            kernel = _dataset(h5, layer, "kernel")  # (kh, kw, in, out)
            state[f"{attr}.weight"] = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
            state[f"{attr}.bias"] = torch.from_numpy(_dataset(h5, layer, "bias"))
        for layer, attr in _NORMS:
            state[f"{attr}.weight"] = torch.from_numpy(_dataset(h5, layer, "gamma"))
            state[f"{attr}.bias"] = torch.from_numpy(_dataset(h5, layer, "beta"))
            state[f"{attr}.running_mean"] = torch.from_numpy(_dataset(h5, layer, "moving_mean"))
            state[f"{attr}.running_var"] = torch.from_numpy(_dataset(h5, layer, "moving_variance"))
            state[f"{attr}.num_batches_tracked"] = torch.tensor(0)
        kernel = _dataset(h5, "dense_3", "kernel")  # (1024 in HWC order, 16)
        # Row r of the Keras kernel is feature (h, w, c) = divmod chain of r over (8, 8, 16);
        # PyTorch's flatten index for the same feature is c*64 + h*8 + w.
        chw = kernel.reshape(8, 8, 16, 16).transpose(2, 0, 1, 3).reshape(1024, 16)
        state["fc1.weight"] = torch.from_numpy(chw.T.copy())
        state["fc1.bias"] = torch.from_numpy(_dataset(h5, "dense_3", "bias"))
        state["fc2.weight"] = torch.from_numpy(_dataset(h5, "dense_4", "kernel").T.copy())
        state["fc2.bias"] = torch.from_numpy(_dataset(h5, "dense_4", "bias"))
    expected = Meso4().state_dict()
    for key, value in expected.items():
        if key not in state or state[key].shape != value.shape:
            got = tuple(state[key].shape) if key in state else "missing"
            raise ValueError(f"{path}: {key} has shape {got}, Meso-4 needs {tuple(value.shape)}")
    return state
