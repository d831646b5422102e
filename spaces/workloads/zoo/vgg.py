"""VGG-16 (configuration D), Simonyan & Zisserman, ICLR 2015, Table 1.

3x3 convolutions with stride 1 and padding 1, 2x2 max pooling with stride 2, 224x224
input, batch 1. Layer names are torchvision's (``torchvision.models.vgg16``).
"""

from __future__ import annotations

from .layer import Builder, ZooLayer

SOURCE = ("Simonyan & Zisserman, 'Very Deep Convolutional Networks for Large-Scale Image "
          "Recognition', ICLR 2015, Table 1 (configuration D); names as torchvision.models.vgg16")
DESCRIPTION = "VGG-16, 13 conv + 3 FC"

_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def layers() -> list[ZooLayer]:
    b = Builder("vgg16", SOURCE)
    size, channels, index = 224, 3, 0
    for v in _CFG:
        if v == "M":
            size //= 2
            index += 1
        else:
            b.conv(f"features.{index}", C=channels, M=int(v), out=size, k=3)
            channels = int(v)
            index += 2  # conv, ReLU
    b.fc("classifier.0", C=512 * 7 * 7, M=4096)
    b.fc("classifier.3", C=4096, M=4096)
    b.fc("classifier.6", C=4096, M=1000)
    return b.layers
