"""What ``optimal``'s bounds cover of the cost model (docs/optimal.md, "Soundness under
model options"): both Timeloop semantics and clustered buffers are covered (the bounds
charge a clustered level's accesses per instance divided by ``cluster_size``, never
more than the model's per-cluster charge), and link transfers (rule L: the bounder leaves
out the part of a read-only keeper's fills a link can supply); sparsity is refused."""

from __future__ import annotations

from dataclasses import replace

from loopscape.spaces.arch import Architecture
from loopscape.spaces.errors import SpecError


def check_model(extra: dict) -> None:
    """Refuse the model options whose effect the bounds' arguments do not cover (link
    transfers are covered: bounds.py, rule L)."""
    if extra.get("sparsity") is not None:
        raise SpecError("strategy 'optimal' cannot be used with sparsity: its bounds count "
                        "dense traffic and dense capacity", key="sparsity",
                        fix="search the dense layer (no --sparsity/--density), or use "
                            "strategy 'local'")


def refusal(ctx) -> str | None:
    """Why ``optimal`` cannot search the space of ``ctx`` (a SearchContext; one phrase),
    or None when it can."""
    if ctx.extra.get("sparsity") is not None:
        return "optimal does not search sparse spaces"
    if getattr(ctx.space, "imperfect", False):
        return "optimal does not search imperfect factors"
    try:
        check_model(ctx.extra)
    except SpecError as e:
        return e.message
    return None


def per_instance_floor(arch: Architecture) -> Architecture:
    """``arch`` with each clustered level's access energies divided by its
    ``cluster_size``: charged per utilized instance, they are at most the model's charge
    per utilized cluster (min(instances used, instances / cluster_size) >= instances used
    / cluster_size), so bounds computed per instance stay lower bounds. The same
    architecture when nothing is clustered."""
    if all(lvl.cluster_size == 1 for lvl in arch.levels):
        return arch
    levels = tuple(lvl if lvl.cluster_size == 1 else
                   replace(lvl, read_energy_pj=lvl.read_energy_pj / lvl.cluster_size,
                           fill_energy_pj=lvl.fill_energy_pj / lvl.cluster_size,
                           update_energy_pj=lvl.update_energy_pj / lvl.cluster_size)
                   for lvl in arch.levels)
    return replace(arch, levels=levels)
