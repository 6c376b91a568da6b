"""Rounding noise on activations while training (:mod:`unet_gis.training.noise`)."""

from __future__ import annotations

import torch
from torch import nn

from unet_gis.model.unet import UNet
from unet_gis.training.noise import add_rounding_noise


def _net() -> UNet:
    torch.manual_seed(0)
    return UNet(3, 2, base_width=4, depth=2)


def test_noise_perturbs_training_passes_only() -> None:
    network = _net()
    x = torch.rand(2, 3, 32, 32)
    network.eval()
    clean = network(x).detach()
    handles = add_rounding_noise(network, 0.01)
    network.eval()
    assert torch.equal(network(x).detach(), clean)  # inference is untouched
    network.train()
    first, second = network(x).detach(), network(x).detach()
    assert not torch.equal(first, second)  # fresh noise each pass
    for handle in handles:
        handle.remove()
    assert torch.equal(network(x).detach(), network(x).detach())


def test_noise_sits_on_every_map_inference_stores() -> None:
    network = _net()
    handles = add_rounding_noise(network, 0.01)
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in network.modules())
    upsamplers = sum(isinstance(m, nn.ConvTranspose2d) for m in network.modules())
    assert len(handles) == norms + upsamplers + 1  # + the head (a conv without BatchNorm)
    assert add_rounding_noise(_net(), 0.0) == []


def test_noise_has_the_asked_relative_size() -> None:
    layer = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False))
    with torch.no_grad():
        layer[0].weight.fill_(1.0)
    add_rounding_noise(layer, 0.05)
    layer.train()
    x = torch.full((1, 1, 256, 256), 2.0)
    relative = layer(x).detach() / x - 1
    assert abs(relative.std().item() - 0.05) < 0.005
    assert abs(relative.mean().item()) < 0.005
