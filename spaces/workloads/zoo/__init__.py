"""Workload zoo: whole networks as ordered lists of layer shapes, each with its source.

``networks()`` names the built-in networks; ``network(name)`` returns every layer
instance in network order (a repeated shape appears once per instance, so the MAC
total of the list is the network's); ``unique_shapes(layers)`` groups identical shapes
for searching each one once. Convolutions have their padding folded into the output
sizes P, Q; FC layers run at batch 1. The decoder LLMs (``llama3_8b``, ``gpt2``,
``mixtral_8x7b``) take options: ``network("llama3_8b", phase="decode", context=4096)``
(``llm.OPTIONS``; defaults in ``llm``'s docstring). See docs/zoo.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable

from loopscape.spaces.errors import SpecError
from loopscape.spaces.workload import Workload

from . import alexnet, bert, llm, mobilenet, resnet, vgg
from .layer import ZooLayer
from .llm import DecoderConfig, attention_context, attention_scores, decoder_layers, moe_routing

__all__ = ["DecoderConfig", "NetworkInfo", "ZooLayer", "attention_context", "attention_scores",
           "decoder_layers", "moe_routing", "network", "network_info", "networks", "shape_key",
           "total_macs", "unique_shapes"]


@dataclass(frozen=True)
class NetworkInfo:
    """A zoo network: its name, a one-line description and the source of its shapes."""

    name: str
    description: str
    source: str
    build: Callable[..., list[ZooLayer]] = dataclasses.field(repr=False, compare=False)
    options: tuple[str, ...] = ()  # keyword options ``build`` takes (e.g. phase, seq)


_NETWORKS: dict[str, NetworkInfo] = {n.name: n for n in (
    NetworkInfo("alexnet", alexnet.DESCRIPTION, alexnet.SOURCE, alexnet.layers),
    NetworkInfo("vgg16", vgg.DESCRIPTION, vgg.SOURCE, vgg.layers),
    NetworkInfo("resnet18", resnet.DESCRIPTION_18, resnet.SOURCE_18, resnet.resnet18),
    NetworkInfo("resnet50", resnet.DESCRIPTION_50, resnet.SOURCE_50, resnet.resnet50),
    NetworkInfo("mobilenet_v2", mobilenet.DESCRIPTION, mobilenet.SOURCE, mobilenet.layers),
    NetworkInfo("bert_base", bert.DESCRIPTION, bert.SOURCE, bert.layers),
    *(NetworkInfo(cfg.name, cfg.description, cfg.source, build, llm.OPTIONS)
      for cfg, build in ((llm.LLAMA3_8B, llm.llama3_8b), (llm.GPT2, llm.gpt2),
                         (llm.MIXTRAL_8X7B, llm.mixtral_8x7b))),
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


def network(name: str, **options) -> list[ZooLayer]:
    """Every layer instance of network ``name``, in network order, duplicates included.

    ``options`` (only for networks that take them, ``NetworkInfo.options``; None means
    the network's default) select e.g. a decoder LLM's phase and sequence length."""
    info = network_info(name)
    given = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in given if k not in info.options]
    if unknown:
        takes = ", ".join(info.options) if info.options else "none"
        raise SpecError(f"network {info.name} takes no option {unknown[0]!r}", source=name,
                        key=unknown[0], fix=f"its options: {takes}")
    return info.build(**given)


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
