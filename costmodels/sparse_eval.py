"""Sparse evaluation (Sparseloop semantics) of one mapping: actual, gated and skipped
reads/fills/updates per level and tensor, metadata traffic, computes, energy, cycles.

Order of the analysis (docs/sparsity.md): dense (algorithmic) counts from the nest
analysis; compressed tiles move only their expected non-zeros; each gating/skipping
optimization removes the accesses whose condition tile is empty, at its own level and
(as fewer words travel) at every level inside it down to the next local optimization;
what reaches the MACs is split into actual, gated and skipped computes. Gated accesses
cost their (usually zero) gated energy but still use bandwidth; skipped ones neither.
"""

from __future__ import annotations

import math

from loopscape.spaces.arch import Architecture
from loopscape.spaces.errors import MappingError
from loopscape.spaces.mapping import Mapping, check_mapping
from loopscape.spaces.sparsity import SparsitySpec
from loopscape.spaces.workload import Workload

from .evaluate import evaluate
from .nest import analyze
from .options import ModelOptions, model_options
from .sparse_density import max_occupancy, occupancy, prob_empty
from .sparse_formats import (expected_rank_words, fiber_shapes, max_rank_words,
                             tile_occupancy)
from .sparse_accounting import account

def _complete_nests(workload: Workload, arch: Architecture, mapping: Mapping) -> list[list]:
    """Timeloop's complete nest per storage level, innermost level first; each loop is
    (dim, factor, spatial, mold)."""
    dims = workload.dims
    n = len(arch.levels)
    mold = {d: 1 for d in dims}
    out = []
    for i in range(n - 1, -1, -1):
        lm = mapping.levels[i]
        loops = []
        fx, fy = arch.fanout(i)
        if fx * fy > 1:
            sp = [(l.dim, l.factor) for l in reversed(lm.spatial_x)] + \
                 [(l.dim, l.factor) for l in reversed(lm.spatial_y)]
            sp += [(d, 1) for d in dims if d not in {x for x, _ in sp}]
            for d, f in sp:
                mold[d] *= f
                loops.append((d, f, True, dict(mold)))
        tp = [(l.dim, l.factor) for l in reversed(lm.temporal)]
        tp += [(d, 1) for d in dims if d not in {x for x, _ in tp}]
        for d, f in tp:
            mold[d] *= f
            loops.append((d, f, False, dict(mold)))
        out.append(loops)
    return out


def _saf_prob(workload, arch, spec, nests, kept_t, level_t, target, conds) -> tuple[int, float]:
    """(Timeloop level of the target's storage, probability an access is ineffectual)."""
    n = len(nests)
    tensor = workload.tensor(target)
    tdims = tensor.dims
    tl = next((l for l in range(level_t, n) if kept_t[target][l]), None)
    if tl is None:
        return -1, 0.0
    child = next((l for l in range(tl - 1, -1, -1) if kept_t[target][l]), -1)
    found = None
    scalar = False
    for l in range(child + 1, tl + 1):
        nest = nests[l]
        for j, (d, f, sp, _) in enumerate(nest):
            if child != -1:
                if f > 1 and d in tdims:
                    found = (l, j)
            else:
                nxt_sp = nest[j + 1][2] if j + 1 < len(nest) else False
                if not nxt_sp:
                    found = (l, j)
                    scalar = not sp
                elif d in tdims and f > 1:
                    found = (l, j)
            if found:
                break
        if found:
            break
    if not found:
        found = (tl, len(nests[tl]) - 1)
    fl, fj = found
    tloop = nests[fl][fj]
    mold = {d: 1 for d in workload.dims} if scalar else dict(tloop[3])
    is_sp = tloop[2]
    relevant = [tloop]
    cmold = dict(mold)
    locate = not is_sp
    for l in range(fl, tl + 1):
        for j in range(fj + 1 if l == fl else 0, len(nests[l])):
            d, f, sp, _ = nests[l][j]
            if f == 1:
                continue
            above_sp = not locate and not sp and child != -1 and d not in tdims
            if sp or above_sp:
                cmold[d] *= f
                relevant.append(nests[l][j])
            if is_sp and not sp and (child == -1 or d in tdims):
                locate = True
    block = arch.levels[n - 1 - tl].block_size
    effectual = 1.0
    for c in conds:
        ctensor = workload.tensor(c)
        co = tdims & ctensor.dims
        tm, cm = dict(mold), dict(cmold)
        agg = 1.0
        cof: dict[str, float] = {}
        ineffective = False
        is_co = False
        for d, f, sp, _ in ([] if scalar else relevant):
            if is_sp and is_co and d in ctensor.dims:
                ineffective = True
                break
            if d in co:
                cof[d] = cof.get(d, 1.0) * f
                agg *= f
                is_co = True
        if ineffective:
            continue
        gran = tensor.size(tm)
        scale = math.ceil(block / (gran / agg))
        for d, f in cof.items():
            eff = f / scale
            tm[d] = math.ceil(tm[d] / eff)
            cm[d] = math.ceil(cm[d] / eff)
            scale = scale / f
        if scale > 1:
            cm[tloop[0]] = int(cm[tloop[0]] * scale)
        csize = ctensor.size(cm)
        full = ctensor.size(dict(zip(workload.dims, workload.bounds)))
        effectual *= 1.0 - prob_empty(spec.density(c), csize, full)
    return tl, 1.0 - effectual


def _rank_bits(ranks: tuple[str, ...], costs) -> list[tuple[int, int]]:
    """(metadata bits, payload bits) per rank, innermost first: bitmasks use 1-bit
    metadata, everything else the level's metadata word width."""
    w = costs.metadata_word_bits or 0
    return [(1 if f == "B" else w, w) for f in reversed(ranks)]


def evaluate_sparse(workload: Workload, arch: Architecture, mapping: Mapping,
                    sparsity: SparsitySpec, *, check: bool = True,
                    schedule: str = "timeloop", options: ModelOptions | None = None):
    """Sparse evaluation; ``sparsity=None`` gives ``evaluate``'s dense result. A spec
    without formats or optimizations gives the dense numbers in the sparse form.
    ``options`` selects the Timeloop semantics and link transfers: as in Sparseloop, the
    sparse layer scales the dense counts, which include the link transfers' peer reads and
    fills; the words moved over links stay dense (docs/sparsity.md)."""
    if sparsity is None:
        return evaluate(workload, arch, mapping, check=check, schedule=schedule,
                        options=options)
    options = sparse_model_options(options)
    if check:
        check_mapping(workload, arch, mapping, check_capacity=False)
    result, rec = sparse_from_nest(workload, arch, mapping, sparsity,
                                   analyze(workload, arch, mapping, schedule, options),
                                   link_transfers=options.link_transfers)
    if check:
        check_sparse_capacity(workload, arch, rec)
    return result


def sparse_model_options(options: ModelOptions | None) -> ModelOptions:
    """The model options of a sparse evaluation: any semantics, links on or off."""
    return model_options(options)


def check_sparse_capacity(workload: Workload, arch: Architecture, rec: dict) -> None:
    """MappingError when a level's kept tiles, compressed ones at their largest
    occupancy, need more bits than the level holds."""
    n = len(arch.levels)
    for i, lvl in enumerate(arch.levels):
        cap = lvl.effective_capacity_bits
        if cap is None:
            continue
        parts = [(t, rec[(n - 1 - i, t)]["occupancy"]) for t in workload.tensor_names
                 if (n - 1 - i, t) in rec]
        used = sum(w * lvl.bits(t) for t, w in parts)
        if used > cap:
            worst = max(parts, key=lambda p: p[1] * lvl.bits(p[0]))[0]
            raise MappingError(
                f"{lvl.name}: kept tiles need {used} bits with compression ("
                + ", ".join(f"{t} {w} words x {lvl.bits(t)} b" for t, w in parts)
                + f") but the level holds {cap} bits; bypass a tensor there or move factors "
                f"of its loops to an outer level", level=lvl.name, tensor=worst)


def sparse_from_nest(workload: Workload, arch: Architecture, mapping: Mapping,
                     sparsity: SparsitySpec, nest, *, link_transfers: bool = False) -> tuple:
    """(SparseEvaluation, per level/tensor records) from a dense nest analysis;
    ``link_transfers``: report the nest's link words per level and tensor."""
    n = len(arch.levels)
    names = [arch.levels[n - 1 - l].name for l in range(n)]  # Timeloop order
    nests = _complete_nests(workload, arch, mapping)
    kept = {t: [t in nest.traffic[n - 1 - l] for l in range(n)] for t in workload.tensor_names}
    rec: dict = {}  # (l, t) -> dict of counts
    for t in workload.tensor_names:
        tensor = workload.tensor(t)
        d = sparsity.density(t)
        full = tensor.size(dict(zip(workload.dims, workload.bounds)))
        for l in range(n):
            if not kept[t][l]:
                continue
            tr = nest.traffic[n - 1 - l][t]
            ranks = sparsity.ranks(names[l], t)
            child = next((c for c in range(l - 1, -1, -1) if kept[t][c]), -1)
            parent = next((p for p in range(l + 1, n) if kept[t][p]), None)
            parent_md = parent is not None and bool(sparsity.ranks(names[parent], t))
            dist = tile_occupancy(d, tr.tile_words, full, parent_md)
            p0 = sum(p for k, p in occupancy(d, tr.tile_words, full) if k == 0)
            r = {"shape": tr.tile_words, "alg": [tr.reads, tr.fills, tr.updates],
                 "ranks": ranks, "md": False,
                 # empty tiles under a compressed parent are never sent: on average only
                 # the instances with a non-empty tile are used (and spend energy)
                 "inst_scale": 1.0 - p0 if parent_md and 0 < p0 < 1 else 1.0}
            pre = child >= 0 and bool(ranks) and rec[(child, t)]["shape"] > 1
            shapes, subs = fiber_shapes(tensor, ranks, sparsity.flattening(names[l], t), nests,
                                        l, child, rec[(child, t)]["fibers"] if pre else None,
                                        names[l], workload.dims)
            r["fibers"] = (shapes, subs)
            if ranks:
                words = expected_rank_words(ranks, shapes, dist, d, tr.tile_words, subs)
                dens = sum(k * p for k, p in dist) / tr.tile_words
                occ = max_occupancy(d, tr.tile_words, full)
                mx = max_rank_words(ranks, shapes, occ, d, tr.tile_words, subs)
                ratio = [x / tr.tile_words for x in r["alg"]]
                r.update(md=True, occupancy=occ, dist=dist, words=words, dens=dens,
                         raw_dist=occupancy(d, tr.tile_words, full),
                         fmt_bits=_rank_bits(ranks, sparsity.costs(names[l])),
                         format_max=[(w.metadata, w.payload) for w in mx],
                         fmt=[[(math.ceil(w.metadata * q - 1e-9), math.ceil(w.payload * q - 1e-9))
                               for w in words] for q in ratio],
                         act=[x - math.floor(x * (1 - dens) + 1e-9) for x in r["alg"]])
            else:
                r.update(occupancy=tr.tile_words, format_max=[], dist=dist,
                         fmt=[[], [], []], act=list(r["alg"]))
            rec[(l, t)] = r
    probs: dict = {}
    for a in sparsity.actions:
        lt = n - 1 - arch.index(a.level)
        tl, p = _saf_prob(workload, arch, sparsity, nests, kept, lt, a.target, a.condition_on)
        if tl < 0:
            continue
        old = probs.get((tl, a.target))
        if old is None or old[1] < p:
            probs[(tl, a.target)] = (a.kind, p)
    return account(workload, arch, sparsity, nest, nests, names, kept, rec, probs,
                   link_transfers), rec
