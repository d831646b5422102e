"""The energy of one inter-PE link transfer, from a Timeloop storage component's network
attributes and the ERT's wire entry (docs/timeloop.md, "Link-transfer energy").

Timeloop gives every storage level an inferred network to its children, specified by the
level's own attributes. A word a child takes from a neighbour over a link costs
``energy_per_hop + 2 x router_energy``. Without ``energy_per_hop`` a hop costs
``network word bits x tile_width (um) / 1000 x wire_energy`` (pJ per bit and mm), where an
ERT entry named ``wire`` (its ``transfer_random`` action) replaces every level's
``wire_energy``, and the word bits are ``network_word_bits``, else the level's word bits,
else 16. Timeloop derives a missing ``tile_width`` from its area model, which loopscape
does not have: a priced wire without ``tile_width`` or ``energy_per_hop`` is an error.
"""

from __future__ import annotations

from ..strict import Where, expect_number

__all__ = ["NETWORK_ATTRS", "link_energy_pj", "wire_energy_pj"]

NETWORK_ATTRS = ("energy_per_hop", "router_energy", "wire_energy", "tile_width",
                 "network_word_bits")


def wire_energy_pj(ert: dict[str, dict[str, float]] | None) -> float:
    """The ERT's wire energy (pJ per bit and mm; 0 when absent), as Timeloop reads it."""
    if not ert:
        return 0.0
    for name in ("wire", "Wire"):
        if name in ert:
            return ert[name].get("transfer_random", 0.0)
    return 0.0


def _num(attrs: dict, key: str, at: Where) -> float | None:
    if attrs.get(key) is None:
        return None
    return expect_number(attrs[key], at.at(key), lenient=True, minimum=0)


def link_energy_pj(attrs: dict, at: Where, word_bits: int, ert_wire: float) -> float | None:
    """pJ per word over a link between this level's children; None when the hop energy
    needs a tile width the attributes do not give (an error only at a level that fans
    out, since only there can links be used)."""
    router = _num(attrs, "router_energy", at) or 0.0
    hop = _num(attrs, "energy_per_hop", at)
    if hop is None:
        wire = ert_wire or _num(attrs, "wire_energy", at) or 0.0
        width = _num(attrs, "tile_width", at)
        if wire and width is None:
            return None
        bits = _num(attrs, "network_word_bits", at) or word_bits
        hop = bits * (width or 0.0) / 1000 * wire
    return hop + 2 * router
