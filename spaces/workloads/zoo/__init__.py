"""Workload zoo: whole networks as ordered lists of layer shapes, each with its source.

``networks()`` names the built-in networks; ``network(name)`` returns every layer
instance in network order (a repeated shape appears once per instance, so the MAC
total of the list is the network's); ``unique_shapes(layers)`` groups identical shapes
for searching each one once. Convolutions have their padding folded into the output
sizes P, Q; FC layers run at batch 1. See docs/zoo.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable

from loopscape.spaces.errors import SpecError
from loopscape.spaces.workload import Workload

from . import alexnet, bert, mobilenet, resnet, vgg
from .layer import ZooLayer

__all__ = ["NetworkInfo", "ZooLayer", "network", "network_info", "networks", "shape_key",
           "total_macs", "unique_shapes"]


@dataclass(frozen=True)
class NetworkInfo:
    """A zoo network: its name, a one-line description and the source of its shapes."""

    name: str
    description: str
    source: str
    build: Callable[[], list[ZooLayer]] = dataclasses.field(repr=False, compare=False)


_NETWORKS: dict[str, NetworkInfo] = {n.name: n for n in (
    NetworkInfo("alexnet", alexnet.DESCRIPTION, alexnet.SOURCE, alexnet.layers),
    NetworkInfo("vgg16", vgg.DESCRIPTION, vgg.SOURCE, vgg.layers),
    NetworkInfo("resnet18", resnet.DESCRIPTION_18, resnet.SOURCE_18, resnet.resnet18),
    NetworkInfo("resnet50", resnet.DESCRIPTION_50, resnet.SOURCE_50, resnet.resnet50),
    NetworkInfo("mobilenet_v2", mobilenet.DESCRIPTION, mobilenet.SOURCE, mobilenet.layers),
    NetworkInfo("bert_base", bert.DESCRIPTION, bert.SOURCE, bert.layers),
)}


def networks() -> list[str]:
    """Names of the built-in networks."""
    return list(_NETWORKS)


def _canonical(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def network_info(name: str) -> NetworkInfo:
    """The zoo entry ``name`` (case, '-' and '_' are ignored: "ResNet-50" works)."""
    for info in _NETWORKS.values():
        if _canonical(info.name) == _canonical(name):
            return info
    raise SpecError(f"no network named {name!r} in the zoo", source=name, key="network",
                    fix=f"use one of {', '.join(_NETWORKS)} (see `loopscape zoo`)")


def network(name: str) -> list[ZooLayer]:
    """Every layer instance of network ``name``, in network order, duplicates included."""
    return network_info(name).build()


def total_macs(layers: Iterable[ZooLayer]) -> int:
    """Sum of the layers' multiply-accumulates."""
    return sum(layer.workload.macs for layer in layers)


def shape_key(workload: Workload) -> Workload:
    """The workload with its name blanked: equal keys mean identical shapes."""
    return dataclasses.replace(workload, name="")


def unique_shapes(layers: Iterable[ZooLayer]) -> list[tuple[Workload, list[str]]]:
    """Group layers whose workloads are equal ignoring the name, in order of first
    appearance: (the first such layer's workload, names of every layer of that shape)."""
    groups: dict[Workload, tuple[Workload, list[str]]] = {}
    for layer in layers:
        key = shape_key(layer.workload)
        if key in groups:
            groups[key][1].append(layer.name)
        else:
            groups[key] = (layer.workload, [layer.name])
    return list(groups.values())
