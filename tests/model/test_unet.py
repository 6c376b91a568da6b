import pytest
import torch

from unet_gis.model.unet import UNet


@pytest.mark.parametrize(("depth", "width", "size"), [(1, 4, 18), (2, 8, 64), (3, 4, 40),
                                                      (4, 16, 48)])
def test_output_has_one_logit_per_class_at_input_size(depth: int, width: int, size: int) -> None:
    size = size // 2**depth * 2**depth
    net = UNet(in_channels=4, num_classes=3, base_width=width, depth=depth).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 4, size, size + 2**depth))
    assert out.shape == (2, 3, size, size + 2**depth)


def test_rejects_sides_not_multiple_of_two_to_the_depth() -> None:
    with pytest.raises(ValueError, match="multiples of 8"):
        UNet(3, 2, 4, depth=3)(torch.rand(1, 3, 36, 40))


def test_skips_are_concatenated_and_upsampling_is_transposed_conv() -> None:
    net = UNet(3, 2, base_width=8, depth=2, batch_norm=False)
    # decoder blocks see twice the channels: upsampled map + same-size encoder map
    assert [d[0].in_channels for d in net.decoders] == [32, 16]
    assert all(isinstance(u, torch.nn.ConvTranspose2d) and u.stride == (2, 2)
               for u in net.upsamplers)
    assert net.head.kernel_size == (1, 1) and net.head.out_channels == 2
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())


def test_receptive_field_reaches_across_levels() -> None:
    """A change in one corner must influence the output far away (skips + bottleneck work)."""
    torch.manual_seed(0)
    net = UNet(1, 1, base_width=4, depth=3, batch_norm=False).eval()
    x = torch.rand(1, 1, 32, 32)
    y = x.clone()
    y[..., 0, 0] = 10.0
    with torch.no_grad():
        diff = (net(x) - net(y)).abs()
    assert diff[..., 16:, 16:].max().item() > 0
