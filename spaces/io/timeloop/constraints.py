"""Timeloop's ``architecture_constraints`` / ``mapspace_constraints`` -> loopscape
Constraints."""

from __future__ import annotations

from typing import Any

from ...arch import Architecture
from ...constraints import Constraints, FactorRule, LevelConstraints
from ...workload import Workload
from ..strict import did_you_mean, expect_int, expect_names, expect_number
from .common import is_empty
from .constraint_entries import (BOUND_NAMES, CONSTRAINT_COMMON, CONSTRAINT_KEYS,
                                 CONSTRAINT_TYPES, CONSTRAINT_UNSUPPORTED, constraint_factors,
                                 constraint_level, constraint_permutation, flat_entries,
                                 split_axes, targets_of)

__all__ = ["timeloop_constraints"]


def timeloop_constraints(spec_or_targets: Any, workload: Workload, arch: Architecture, *,
                         source: str | None = None) -> Constraints:
    """Convert Timeloop's ``architecture_constraints`` and ``mapspace_constraints`` into
    loopscape :class:`Constraints` for ``workload`` on ``arch``.

    ``spec_or_targets`` is a :class:`TimeloopSpec` (its ``constraints``), a Timeloop
    document (a dict with ``architecture_constraints``/``mapspace_constraints``: errors
    then name those keys), ``{"targets": [...]}`` or the list of targets.

    Semantics, as read from Timeloop's source (src/mapping/constraints.cpp, ``Parse*``;
    src/mapspaces/uber.cpp and subspaces.cpp for how the mapper applies them):

    * ``type``: temporal, spatial, bypass (also bypassing, datatype, dataspace),
      utilization (also parallelism). ``target`` (or ``name``) is a storage level name
      or id, 0 being the innermost level.
    * ``factors``: ``D=k`` or ``Dk`` fixes a factor, ``D=0`` means the whole bound,
      ``D<=k`` / ``D>=k`` bound it. A fixed factor above the bound, which Timeloop
      ignores with a warning, is an error here. A spatial factor is the level's whole
      spatial factor of that dimension (X times Y).
    * ``default_max_factor`` / ``default_min_factor`` (in a temporal or spatial entry):
      the bound for every dimension that entry gives no ``<=`` (``>=``) term, at that
      level and of that kind. They become per-dimension rules, not the global defaults.
    * ``permutation`` is innermost first. The dimensions before an optional ``_`` are
      pinned innermost in that order, those after it outermost; the others are free
      (a partial string constrains only the innermost loops). They become ``inner`` and
      ``outer`` in loopscape's outermost-first order (``"RS_PQ"``: inner [S, R], outer
      [Q, P]); dimensions the same level fixes to a temporal factor of 1 are dropped as
      they are exempt anyway. A spatial permutation only decides the X/Y split.
    * ``split`` (spatial): positions below it in the level's loop order go on X, the
      rest on Y; ``split`` >= the number of dimensions puts all on X, 0 all on Y. They
      become ``spatial_x``/``spatial_y``; without ``split`` Timeloop searches it, so
      both stay unrestricted.
    * ``keep``/``bypass``: tensors kept or bypassed at the level.
    * ``utilization`` with ``min``: the minimum product of spatial fanout utilizations,
      allowed only on the innermost storage level; it becomes ``min_pe_utilization``.

    Re-specifying a factor, bound, permutation, split, keep or utilization for one level
    (e.g. in both ``architecture_constraints`` and ``mapspace_constraints``) is an error,
    as in Timeloop; so are spatial entries on levels without fanout. The result is not
    validated against the layer here: :func:`validate_constraints` does that.
    """
    if source is None:
        sources = getattr(spec_or_targets, "sources", ())
        source = ", ".join(sources) if sources else "<timeloop>"
    names = list(arch.level_names)
    n = len(names)
    tensor_names = list(workload.tensor_names)
    # Per (level, kind, dim, bound kind) -> (value, where); kind "temporal"/"spatial".
    factors: dict[tuple[int, str, str, str], tuple[int, str]] = {}
    perms: dict[tuple[int, str], tuple[list[str], list[str], str]] = {}
    splits: dict[int, tuple[int, str]] = {}
    keeps: dict[tuple[int, str], tuple[str, str]] = {}
    utilization: tuple[float, str] | None = None
    for targets, at in targets_of(spec_or_targets, source):
        for e in flat_entries(targets, at):
            raw_type = e.data.get("type")
            if raw_type is None:
                raise e.at.error("the constraint has no type",
                                 fix="add type: temporal, spatial, bypass or utilization")
            if raw_type == "max_overbooked_proportion":
                raise e.where("type").error("overbooking constraints are not supported",
                                            fix="remove this entry (loopscape never overbooks)")
            if raw_type not in CONSTRAINT_TYPES:
                raise e.where("type").error(
                    f"unknown constraint type {raw_type!r}",
                    fix=f"use one of {', '.join(CONSTRAINT_TYPES)}")
            kind = CONSTRAINT_TYPES[raw_type]
            allowed = CONSTRAINT_COMMON + CONSTRAINT_KEYS[kind]
            for key in e.data:
                if key in CONSTRAINT_UNSUPPORTED and key not in allowed:
                    if is_empty(e.data[key]):
                        continue
                    raise e.where(key).error(
                        f"{key} ({CONSTRAINT_UNSUPPORTED[key]}) is not supported by "
                        f"loopscape", fix=f"remove {key}")
                if key not in allowed:
                    raise e.where(str(key)).error(
                        f"unknown key {key!r} in a {raw_type} constraint"
                        f"{did_you_mean(key, allowed)}",
                        fix=f"a {raw_type} constraint has {', '.join(allowed)}")
            lvl = constraint_level(e, arch)
            here = f"{e.label()} (target {names[lvl]})"
            if kind == "utilization":
                if lvl != n - 1:
                    raise e.where("target").error(
                        f"a utilization constraint must target the innermost storage level "
                        f"({names[-1]}), as in Timeloop; got {names[lvl]}",
                        fix=f"target: {names[-1]}")
                if "min" not in e.data:
                    raise e.at.error("a utilization constraint needs 'min'",
                                     fix="add min: a fraction between 0 and 1")
                u = expect_number(e.data["min"], e.where("min"), lenient=True)
                if not 0 <= u <= 1:
                    raise e.where("min").error(f"must be between 0 and 1, got {u:g}")
                if utilization is not None:
                    raise e.at.error(f"a second utilization constraint (the first is "
                                     f"{utilization[1]})", fix="keep one")
                utilization = (u, here)
                continue
            if kind == "bypass":
                for verdict in ("keep", "bypass"):
                    for t in expect_names(e.data.get(verdict), e.where(verdict), lenient=True):
                        if t not in tensor_names:
                            raise e.where(verdict).error(f"unknown data space {t!r}",
                                                         fix=f"use {tensor_names}")
                        prior = keeps.get((lvl, t))
                        if prior is not None:
                            raise e.where(verdict).error(
                                f"{t} is given a keep/bypass setting at {names[lvl]} twice "
                                f"({prior[0]} in {prior[1]}, {verdict} here); Timeloop rejects "
                                f"this too", fix="give each data space one setting per level")
                        keeps[(lvl, t)] = (verdict, here)
                continue
            # temporal / spatial
            if kind == "spatial" and arch.fanout(lvl) == (1, 1):
                raise e.where("type").error(
                    f"{names[lvl]} has no spatial fanout (the level below it has as many "
                    f"instances), so it takes no spatial constraint (Timeloop rejects it too)",
                    fix="remove this entry or target a level that fans out")
            terms = constraint_factors(e.data.get("factors"), e.where("factors"), workload)
            given = {(d, k) for d, k, _, _ in terms}
            for key, bound_kind in (("default_max_factor", "max"),
                                    ("default_min_factor", "min")):
                if e.data.get(key) is None:
                    continue
                v = expect_int(e.data[key], e.where(key), minimum=1, lenient=True)
                terms += [(d, bound_kind, v, f"{key}: {v}") for d in workload.dims
                          if (d, bound_kind) not in given]
            for d, bound_kind, v, text in terms:
                slot = (lvl, kind, d, bound_kind)
                if slot in factors:
                    raise e.where("factors").error(
                        f"a second {kind} {BOUND_NAMES[bound_kind]} for {d} at {names[lvl]} "
                        f"({text!r}; the first is "
                        f"{factors[slot][1]}); Timeloop rejects this too",
                        fix="give each dimension one value per level")
                factors[slot] = (v, f"{text!r} in {here}")
            prefix, suffix = constraint_permutation(e.data.get("permutation"),
                                                     e.where("permutation"), workload)
            if prefix or suffix:
                if (lvl, kind) in perms:
                    raise e.where("permutation").error(
                        f"a second {kind} permutation for {names[lvl]} (the first is in "
                        f"{perms[(lvl, kind)][2]}); Timeloop rejects this too",
                        fix="give one permutation per level")
                perms[(lvl, kind)] = (prefix, suffix, here)
            if kind == "spatial" and e.data.get("split") is not None:
                if lvl in splits:
                    raise e.where("split").error(
                        f"a second split for {names[lvl]} (the first is in {splits[lvl][1]})",
                        fix="give one split per level")
                splits[lvl] = (expect_int(e.data["split"], e.where("split"), minimum=0,
                                          lenient=True), here)
    return _build_constraints(workload, arch, factors, perms, splits, keeps,
                              utilization[0] if utilization else 0.0, source)


def _build_constraints(workload: Workload, arch: Architecture,
                       factors: dict[tuple[int, str, str, str], tuple[int, str]],
                       perms: dict[tuple[int, str], tuple[list[str], list[str], str]],
                       splits: dict[int, tuple[int, str]],
                       keeps: dict[tuple[int, str], tuple[str, str]],
                       utilization: float, source: str) -> Constraints:
    levels = []
    for i, lvl in enumerate(arch.levels):
        rules: dict[str, list[tuple[str, FactorRule]]] = {"temporal": [], "spatial": []}
        for kind in ("temporal", "spatial"):
            for d in workload.dims:
                got = {b: factors[(i, kind, d, b)][0] for b in ("exact", "min", "max")
                       if (i, kind, d, b) in factors}
                if not got:
                    continue
                exact = got.get("exact")
                rules[kind].append((d, FactorRule(
                    exact=exact if exact else None, min=got.get("min"), max=got.get("max"),
                    whole=exact == 0)))
        temporal = dict(rules["temporal"])

        def unit(d: str) -> bool:
            r = temporal.get(d)
            return r is not None and (r.exact == 1 or (r.whole and workload.bound(d) == 1))

        prefix, suffix, _ = perms.get((i, "temporal"), ([], [], ""))
        inner = tuple(d for d in reversed(prefix) if not unit(d))
        outer = tuple(d for d in reversed(suffix) if not unit(d))
        sx = sy = None
        if i in splits:
            fx, fy = arch.fanout(i)
            sprefix, ssuffix, _ = perms.get((i, "spatial"), ([], [], ""))
            sx, sy = split_axes(sprefix, ssuffix, splits[i][0], workload.dims,
                                 fx > 1 and fy > 1)
        keep = tuple(t for t in workload.tensor_names if keeps.get((i, t), ("",))[0] == "keep")
        bypass = tuple(t for t in workload.tensor_names
                       if keeps.get((i, t), ("",))[0] == "bypass")
        lc = LevelConstraints(target=lvl.name, temporal=tuple(rules["temporal"]),
                              spatial=tuple(rules["spatial"]), spatial_x=sx, spatial_y=sy,
                              outer=outer, inner=inner, keep=keep, bypass=bypass)
        if lc != LevelConstraints(target=lvl.name):
            levels.append(lc)
    return Constraints(tuple(levels), min_pe_utilization=utilization, source=source)
