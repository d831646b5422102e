"""Component attributes in Timeloop architectures: which ones loopscape reads, which it
rejects unless harmless, and which it accepts unread (Accelergy's estimation inputs).
Any other attribute is an error naming the closest known one, so a typo such as
``dpeth: 64`` does not silently leave a buffer unbounded (docs/timeloop.md#attributes)."""

from __future__ import annotations

from typing import Any, Iterable

from ..strict import Where, did_you_mean, expect_map, expect_number
from .common import is_empty
from .network import NETWORK_ATTRS

__all__ = ["KNOWN_ATTRS", "READ_ATTRS", "UNREAD_ATTRS", "UNSUPPORTED_ATTRS",
           "check_supported", "compound_attributes", "known_attributes"]

# Attributes the conversion reads (arch.py): sizes, widths, bandwidths, buffering, the
# mesh, energies. Timeloop reads the same ones (model/buffer.cpp, arithmetic.cpp).
READ_ATTRS = ("word_bits", "word_width", "datawidth", "block_size", "n_words", "width",
              "memory_width", "data_storage_width", "entries", "depth", "memory_depth",
              "data_storage_depth", "sizeKB", "bandwidth", "read_bandwidth",
              "write_bandwidth", "shared_bandwidth", "multiple_buffering", "min_utilization",
              "cluster_size", "technology", "metadata_datawidth", "metadata_word_bits",
              "metadata_storage_width", "metadata_width", "metadata_storage_depth",
              "metadata_depth", "metadata_block_size", "compression_supported",
              "decompression_supported", "vector_access_energy", "instances", "meshX",
              "meshY", "energy") + NETWORK_ATTRS

# Attributes that change nothing loopscape or Timeloop's model computes from an ERT:
# Timeloop's own port/bank/area inputs (used only by its built-in energy tables, which
# an ERT replaces) and Accelergy's estimation inputs (they shaped the ERT already).
UNREAD_ATTRS = ("num_ports", "n_ports", "num_banks", "n_banks", "cluster_area",
                "storage_area", "latency", "global_cycle_seconds", "cycle_seconds",
                "n_rdwr_ports", "n_rd_ports", "n_wr_ports", "nports", "adder_width",
                "multiplier_width", "type", "version", "update_fifo_depth",
                "metadata_counter_width", "area", "area_scale", "energy_scale", "leak_power",
                "voltage", "resolution", "action_latency_cycles", "n_instances")

# Attributes that would change Timeloop's counts or energies in ways loopscape does not
# model, with the value that keeps them harmless.
UNSUPPORTED_ATTRS: dict[str, tuple[Any, str]] = {
    "allow_overbooking": (False, "overbooking (tiles larger than the buffer)"),
    "reduction_supported": (True, "buffers that cannot reduce partial sums"),
    "has_power_gating": (False, "power gating"),
    "power_gated_at": (None, "power gating"),
    "network_fill_latency": (0, "network latency"),
    "network_drain_latency": (0, "network latency"),
    "concordant_compressed_tile_traversal": (False, "concordant compressed traversal"),
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


KNOWN_ATTRS = READ_ATTRS + tuple(UNSUPPORTED_ATTRS) + (
    "per_dataspace_bandwidth_consumption_scale",) + UNREAD_ATTRS


def compound_attributes(compound_components: Any) -> frozenset[str]:
    """Attribute names that the document's own Accelergy compound-component classes
    declare (``compound_components.classes[*].attributes``): user-defined estimation
    inputs, accepted unread like Accelergy's built-in ones."""
    if not isinstance(compound_components, dict):
        return frozenset()
    names: set[str] = set()
    for cls in compound_components.get("classes") or []:
        if isinstance(cls, dict) and isinstance(cls.get("attributes"), dict):
            names.update(str(k) for k in cls["attributes"])
    return frozenset(names)


def known_attributes(attrs: dict, at: Where, extra: Iterable[str] = ()) -> dict:
    """``attrs`` with Timeloop's hyphenated spellings (``block-size``, ``word-bits``,
    ``cluster-size``, ``multiple-buffering``, ...) read as their underscore twins;
    SpecError for an attribute neither Timeloop, Accelergy nor the document's compound
    components define (naming the closest known one) and for one given in both
    spellings."""
    extra = frozenset(extra)
    out: dict = {}
    for key, value in attrs.items():
        name = str(key)
        under = name.replace("-", "_")
        if under in KNOWN_ATTRS and under != name:
            if under in attrs:
                raise at.at(name).error(f"{name!r} and {under!r} are the same attribute "
                                        f"(Timeloop reads both spellings)", fix="give it once")
            name = under
        if name not in KNOWN_ATTRS and name not in extra:
            hint = did_you_mean(name, KNOWN_ATTRS + tuple(extra))
            raise at.at(str(key)).error(
                f"unknown attribute {key!r}{hint}",
                fix="Timeloop and Accelergy define no such attribute; fix the spelling or "
                    "remove it (known attributes: docs/timeloop.md#attributes)")
        out[name] = value
    return out
