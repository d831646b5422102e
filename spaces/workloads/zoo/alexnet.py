"""AlexNet, torchvision's single-GPU variant (``torchvision.models.alexnet``).

torchvision follows Krizhevsky's "One weird trick" paper (arXiv:1404.5997): 64, 192,
384, 256, 256 filters with no channel groups, unlike the two-GPU network of Krizhevsky
et al. 2012 (96, 256, 384, 384, 256 filters, conv2/4/5 split in 2 groups). 224x224
input, batch 1; layer names are torchvision's module names.
"""

from __future__ import annotations

from .layer import Builder, ZooLayer, conv_out

SOURCE = ("torchvision.models.alexnet (Krizhevsky, 'One weird trick for parallelizing "
          "convolutional neural networks', arXiv:1404.5997, 2014), 224x224 input")
DESCRIPTION = "AlexNet (torchvision single-tower variant), 5 conv + 3 FC"


def layers() -> list[ZooLayer]:
    b = Builder("alexnet", SOURCE)
    s = conv_out(224, 11, 4, 2)                          # 55
    b.conv("features.0", C=3, M=64, out=s, k=11, stride=4)
    s = conv_out(s, 3, 2, 0)                             # maxpool -> 27
    b.conv("features.3", C=64, M=192, out=s, k=5)        # pad 2
    s = conv_out(s, 3, 2, 0)                             # maxpool -> 13
    b.conv("features.6", C=192, M=384, out=s, k=3)       # pad 1
    b.conv("features.8", C=384, M=256, out=s, k=3)
    b.conv("features.10", C=256, M=256, out=s, k=3)
    s = conv_out(s, 3, 2, 0)                             # maxpool -> 6 (avgpool keeps 6x6)
    b.fc("classifier.1", C=256 * s * s, M=4096)
    b.fc("classifier.4", C=4096, M=4096)
    b.fc("classifier.6", C=4096, M=1000)
    return b.layers
