"""Parameter and multiply-add counts of a net, measured on one sample."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["count_madds", "count_params"]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_madds(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of conv and linear layers for one input (BN/activations not counted)."""
    total = 0

    def conv_hook(module: nn.Conv2d, _inp: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += out.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, _inp: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * module.in_features

    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return int(total)
