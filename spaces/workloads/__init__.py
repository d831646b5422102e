"""Where workloads come from beyond a single YAML file: the network zoo (published layer
shapes of whole networks) and ONNX import. Both produce lists of ``ZooLayer`` (a named
``Workload`` with its repeat count in the network)."""

from .zoo import ZooLayer, network, network_info, networks, total_macs, unique_shapes

__all__ = ["ZooLayer", "network", "network_info", "networks", "total_macs", "unique_shapes"]
