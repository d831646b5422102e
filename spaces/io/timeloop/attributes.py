"""Component attributes in Timeloop architectures: which ones loopscape reads, which it
rejects unless harmless, and which it accepts unread (Accelergy's estimation inputs)."""

from __future__ import annotations

from typing import Any

from ..strict import Where, expect_map, expect_number
from .common import is_empty

__all__ = ["UNSUPPORTED_ATTRS", "check_supported"]

# Attributes that would change Timeloop's counts or energies in ways loopscape does not
# model, with the value that keeps them harmless.
UNSUPPORTED_ATTRS: dict[str, tuple[Any, str]] = {
    "cluster_size": (1, "clustered buffers"),
    "allow_overbooking": (False, "overbooking (tiles larger than the buffer)"),
    "reduction_supported": (True, "buffers that cannot reduce partial sums"),
    "has_power_gating": (False, "power gating"),
    "power_gated_at": (None, "power gating"),
    "network_fill_latency": (0, "network latency"),
    "network_drain_latency": (0, "network latency"),
    "metadata_datawidth": (0, "sparse metadata"),
    "metadata_word_bits": (0, "sparse metadata"),
    "metadata_storage_width": (0, "sparse metadata"),
    "metadata_width": (0, "sparse metadata"),
    "metadata_storage_depth": (0, "sparse metadata"),
    "metadata_depth": (0, "sparse metadata"),
    "metadata_block_size": (1, "sparse metadata"),
    "compression_supported": (False, "compression"),
    "decompression_supported": (False, "compression"),
    "concordant_compressed_tile_traversal": (False, "compression"),
    "tile_partition_supported": (False, "runtime tile partitioning"),
    "network_read": (None, "user-defined networks"),
    "network_fill": (None, "user-defined networks"),
    "network_drain": (None, "user-defined networks"),
    "network_update": (None, "user-defined networks"),
    "network_operand": (None, "user-defined networks"),
    "network_result": (None, "user-defined networks"),
    "addr_gen_energy": (None, "address-generation energy"),
}


def check_supported(attrs: dict, at: Where) -> None:
    for key, (harmless, what) in UNSUPPORTED_ATTRS.items():
        if key not in attrs:
            continue
        v = attrs[key]
        if v is None or v == harmless:
            continue
        if isinstance(harmless, bool) and isinstance(v, str) and v.lower() == str(harmless).lower():
            continue
        if isinstance(harmless, (int, float)) and not isinstance(harmless, bool) and not \
                isinstance(v, bool):
            try:
                if float(v) == harmless:
                    continue
            except (TypeError, ValueError):
                pass
        shown = "null" if harmless is None else str(harmless).lower() if isinstance(
            harmless, bool) else harmless
        raise at.at(key).error(f"{what} ({key}: {v!r}) is not supported by loopscape",
                               fix=f"remove {key} or set it to {shown}")
    scale = attrs.get("per_dataspace_bandwidth_consumption_scale")
    if not is_empty(scale):
        s_at = at.at("per_dataspace_bandwidth_consumption_scale")
        for t, v in expect_map(scale, s_at).items():
            if expect_number(v, s_at.at(str(t)), lenient=True) != 1.0:
                raise s_at.at(str(t)).error("per-tensor bandwidth scales are not supported",
                                            fix="remove the scale or set it to 1")
