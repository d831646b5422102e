"""MobileNetV2 (width 1.0, 224x224), Sandler et al., CVPR 2018, Table 2, as built by
torchvision (``torchvision.models.mobilenet_v2``).

Each inverted-residual block is a 1x1 expansion (absent when t = 1), a 3x3 depthwise
convolution carrying the block's stride, and a 1x1 linear projection. Batch 1; names
are torchvision's module names.
"""

from __future__ import annotations

from .layer import Builder, ZooLayer

SOURCE = ("Sandler et al., 'MobileNetV2: Inverted Residuals and Linear Bottlenecks', "
          "CVPR 2018, Table 2; names as torchvision.models.mobilenet_v2")
DESCRIPTION = "MobileNetV2 1.0, 52 conv (17 depthwise) + 1 FC"

# (expansion t, output channels c, repeats n, first stride s), Table 2.
_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1)]


def layers() -> list[ZooLayer]:
    b = Builder("mobilenet_v2", SOURCE)
    size = 112
    b.conv("features.0.0", C=3, M=32, out=size, k=3, stride=2)
    cin, index = 32, 1
    for t, c, n, s in _SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            p = f"features.{index}.conv"
            j = 0
            if t != 1:
                b.conv(f"{p}.0.0", C=cin, M=hidden, out=size, k=1)
                j = 1
            size //= stride
            b.depthwise(f"{p}.{j}.0", C=hidden, out=size, k=3, stride=stride)
            b.conv(f"{p}.{j + 1}", C=hidden, M=c, out=size, k=1)
            cin, index = c, index + 1
    b.conv(f"features.{index}.0", C=cin, M=1280, out=size, k=1)
    b.fc("classifier.1", C=1280, M=1000)
    return b.layers
