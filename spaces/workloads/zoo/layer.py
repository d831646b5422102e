"""The zoo's layer record and the small helpers every network module uses."""

from __future__ import annotations

from dataclasses import dataclass

from loopscape.spaces.workload import Workload, conv2d, depthwise_conv2d, fully_connected


@dataclass(frozen=True)
class ZooLayer:
    """One layer instance of a network: its name in the network (e.g. ``layer2.0.conv2``),
    its shape as a Workload, and where the shape comes from."""

    name: str
    workload: Workload
    source: str

    @property
    def macs(self) -> int:
        return self.workload.macs


def conv_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Output size of a convolution or pooling window (floor mode, like PyTorch)."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


class Builder:
    """Collects a network's layers in order; workload names are ``network.layer``."""

    def __init__(self, network: str, source: str):
        self.network = network
        self.source = source
        self.layers: list[ZooLayer] = []

    def _add(self, name: str, workload: Workload) -> None:
        self.layers.append(ZooLayer(name, workload, self.source))

    def conv(self, name: str, *, C: int, M: int, out: int, k: int, stride: int = 1,
             groups: int = 1) -> None:
        """A square k x k convolution with a square ``out`` x ``out`` output (padding folded
        into the output size)."""
        self._add(name, conv2d(C=C, M=M, P=out, Q=out, R=k, S=k, stride=stride, groups=groups,
                               name=f"{self.network}.{name}"))

    def depthwise(self, name: str, *, C: int, out: int, k: int, stride: int = 1) -> None:
        """A k x k depthwise convolution (one filter per channel)."""
        self._add(name, depthwise_conv2d(C=C, P=out, Q=out, R=k, S=k, stride=stride,
                                         name=f"{self.network}.{name}"))

    def fc(self, name: str, *, C: int, M: int) -> None:
        """A fully connected layer at batch 1: C inputs, M outputs."""
        self._add(name, fully_connected(N=1, C=C, M=M, name=f"{self.network}.{name}"))

    def add(self, name: str, workload: Workload) -> None:
        """Any other workload (its name is set by the caller)."""
        self._add(name, workload)
