"""ResNet-18 and ResNet-50, He et al., CVPR 2016, Table 1, as built by torchvision.

224x224 input, batch 1. ResNet-50 is torchvision's "v1.5": a downsampling bottleneck
puts its stride 2 on the 3x3 convolution (``conv2``) rather than on the first 1x1; this
is the variant behind the usual 4.09 G MAC figure. Every convolution is listed,
including the 1x1 ``downsample.0`` projections, and the final FC.
"""

from __future__ import annotations

from .layer import Builder, ZooLayer

_PAPER = "He et al., 'Deep Residual Learning for Image Recognition', CVPR 2016, Table 1"
SOURCE_18 = f"{_PAPER}; names as torchvision.models.resnet18"
SOURCE_50 = f"{_PAPER}; torchvision.models.resnet50 (v1.5: stride on the 3x3 conv)"
DESCRIPTION_18 = "ResNet-18, 20 conv (incl. 3 downsample) + 1 FC"
DESCRIPTION_50 = "ResNet-50 v1.5, 53 conv (incl. 4 downsample) + 1 FC"


def _stem(b: Builder) -> int:
    b.conv("conv1", C=3, M=64, out=112, k=7, stride=2)  # pad 3; then 3x3/2 maxpool
    return 56


def resnet18() -> list[ZooLayer]:
    b = Builder("resnet18", SOURCE_18)
    size = _stem(b)
    cin = 64
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            out = size // stride
            p = f"layer{stage}.{block}"
            b.conv(f"{p}.conv1", C=cin, M=width, out=out, k=3, stride=stride)
            b.conv(f"{p}.conv2", C=width, M=width, out=out, k=3)
            if stride != 1 or cin != width:
                b.conv(f"{p}.downsample.0", C=cin, M=width, out=out, k=1, stride=stride)
            cin, size = width, out
    b.fc("fc", C=512, M=1000)
    return b.layers


def resnet50() -> list[ZooLayer]:
    b = Builder("resnet50", SOURCE_50)
    size = _stem(b)
    cin = 64
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            out = size // stride
            p = f"layer{stage}.{block}"
            b.conv(f"{p}.conv1", C=cin, M=width, out=size, k=1)
            b.conv(f"{p}.conv2", C=width, M=width, out=out, k=3, stride=stride)
            b.conv(f"{p}.conv3", C=width, M=4 * width, out=out, k=1)
            if block == 0:
                b.conv(f"{p}.downsample.0", C=cin, M=4 * width, out=out, k=1, stride=stride)
            cin, size = 4 * width, out
    b.fc("fc", C=2048, M=1000)
    return b.layers
