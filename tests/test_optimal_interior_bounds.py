"""Rule O below the root (the assigned loops' factors, the outermost level's first two
loops) and rule V (distinct origins along a compound axis), docs/optimal.md: their claims
against the model on drawn mappings, the bound of a drawn mapping's own profile
combination at every prefix depth below its energy, and its own case's term below the
model tensor by tensor (both semantics, links on and off), brute-force front equality
with every node bounded, and a hand count for rule V."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimal_checks import subtree_prefix
from test_optimal import check_exact, small_spaces
from test_optimal_joint_bounds import MODELS, small_spads
from test_optimal_links_floor import mini_eyeriss

from loopscape.costmodels import evaluate
from loopscape.costmodels.options import ModelOptions
from loopscape.mapper.strategies.optimal.bounds import (Bounder, is_simple, solo_dims,
                                                        without_unit_terms)
from loopscape.mapper.strategies.optimal.compulsory import touched_words
from loopscape.mapper.strategies.optimal.origins import CompoundOrigins
from loopscape.mapper.strategies.optimal.profiles import SpatialProfiles
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.spaces.arch import Architecture, ComputeLevel, StorageLevel
from loopscape.spaces.mapping import LevelMapping, Loop, Mapping
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import conv2d, einsum


def _draw_and_check(ms: Mapspace, model: ModelOptions, n: int, seed: int) -> int:
    """At every prefix depth of each drawn mapping, rule P with rules O and V (the rows
    assigned so far passed in) bounds the mapping's own profile combination below its
    energy; returns how many (mapping, depth) pairs the new terms raised above rule P
    with rule O at the root only."""
    bd = Bounder(ms.workload, ms.arch, structure(ms), links=model.link_transfers)
    new, old = SpatialProfiles(bd), SpatialProfiles(bd, origins=False)
    raised = 0
    for mid, m in ms.sample(n, seed=seed):
        ev = evaluate(ms.workload, ms.arch, m, options=model)
        E = ev.energy_pj
        spent = {t.name: sum(lv.tensors[t.name].energy_pj for lv in ev.levels
                             if t.name in lv.tensors) for t in bd.workload.tensors}
        loops = [(j, lp.dim) for j, lm in enumerate(m.levels) for lp in lm.temporal
                 if lp.factor > 1]
        own = (loops[0][1], loops[0][0]) if loops else (None, bd.L)
        at0 = [d for j, d in loops if j == 0]  # level 0's loops: the second one, or alone
        f0s = [lp.factor for lp in m.levels[0].temporal if lp.factor > 1]
        # level 0's second loop, alone, the first and second loops' factors there
        own0 = (at0[1] if len(at0) > 1 else None, len(at0) == 1,
                f0s[0] if f0s else 0, f0s[1] if len(f0s) > 1 else 0)
        rows = bd.st.tiling_rows(mid)
        D = len(rows)
        for depth in range(1, D + 1):
            U = list(range(depth, D))
            pos, neg, spx, spy, ce, fixed = subtree_prefix(bd, rows, depth)
            got = new.bound(U, pos, neg, spx, spy, ce, fixed)
            assert got is not None and len(got[0])
            P, _, _, idx = new.combos(U, spx, spy)
            mine = np.all([idx[:, j] == new.group[di][rows[di]] for j, di in enumerate(U)],
                          axis=0) if U else np.ones(len(P), dtype=bool)
            assert mine.sum() == 1  # the mapping's own combination
            e = got[0][mine][0]
            assert e <= E, (mid, depth, e, E)
            plain = old.bound(U, pos, neg, spx, spy, ce)[0][mine][0]  # rule O at the root only
            raised += e > plain * (1 + 1e-9)
            # rule O tensor by tensor: the mapping's own case and chains
            k = int(np.nonzero(mine)[0][0])
            f = new.origins.factor(new.spatial(U, idx[k:k + 1], fixed))
            Pk = pos[None] * P[k:k + 1] * (1.0 if f is None else f)
            Qk = neg[None] * new.combos(U, spx, spy)[1][k:k + 1]
            for case, per_tensor in new.outermost.cases_terms(Pk, Qk, ce, fixed):
                if case[:2] != own or (case[1] == 0 and new.outermost.pairs and
                                       (case[3], case[5], case[2], case[4]) != own0):
                    continue  # (level 0: one case per first and second factor)
                rest, maybe, _ = case[6]
                if not set(rest) <= set(at0[2:]) <= set(rest) | set(maybe):
                    continue  # (rule Z: one case per set of further loops at level 0)
                for ti, t in enumerate(bd.workload.tensors):
                    ch = tuple(i for i, lm in enumerate(m.levels) if t.name in lm.keep)
                    v = per_tensor[ti][bd.chains[ti].index(ch)][0]
                    assert v * (1 - 1e-9) <= spent[t.name], (mid, depth, case, t.name, v,
                                                               spent[t.name])
    return raised


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.semantics}-links{m.link_transfers}")
def test_interior_rules_admissible_on_a_mini_eyeriss(model):
    """Free mappings of a small strided-free convolution on the mini Eyeriss with
    scratchpads of a few words: the new terms raise some prefixes' bounds and stay below
    the model."""
    w = conv2d(C=2, M=4, P=6, Q=3, R=3, S=1)
    assert _draw_and_check(Mapspace(w, small_spads(24)), model, 30, seed=7) > 0


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.integers(0, 2**31), st.sampled_from(MODELS))
def test_interior_rules_admissible_on_random_spaces(ms, seed, model):
    _draw_and_check(ms, model, 6, seed)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 3),
                              "P": st.integers(2, 6), "Q": st.integers(1, 3),
                              "R": st.integers(1, 3), "S": st.integers(1, 2)}),
       st.integers(1, 2), st.sampled_from(MODELS), st.integers(0, 2**31))
def test_interior_rules_admissible_on_strided_layers(dims, stride, model, seed):
    """Strided convolutions on a mini Eyeriss with a 2x2 array (sliding windows spread
    over the fanouts: rule V's case)."""
    try:
        ms = Mapspace(conv2d(**dims, stride=stride), mini_eyeriss(fx=2, fy=2))
    except Exception:  # a layer this architecture cannot map
        return
    _draw_and_check(ms, model, 4, seed)


def _claims_hold(ms: Mapspace, model: ModelOptions, n: int, seed: int) -> set[str]:
    """The claims themselves on ``n`` drawn mappings. Rule O with factors: with the
    outermost non-unit temporal loop over ``d0`` at level ``j0`` of factor ``F0``, a
    tensor ``t`` that ``d0`` does not index, whose first keeper below the outermost level
    is ``k1 > j0``, is served at least ``T + (F0 - 1) (T - H')`` words by the outermost
    level, where ``H'`` is the least of ``H`` (capacity times distinct instances) and,
    for a simple tensor, the words of one iteration of the temporal loops above ``k1``.
    Rule V: the innermost keeper's reads (updates for outputs) are at least the compute
    cycles times, per fanout at or below it, the product over the tensor's axes of the
    largest spatial factor of a dimension of the axis. Returns which claims said more
    than the older rules on some mapping ("O": F0 > 2 or H' < H with T > H'; "V": an
    axis with a spatially split compound dimension)."""
    w, arch = without_unit_terms(ms.workload), ms.arch
    bites = set()
    for mid, m in ms.sample(n, seed=seed):
        ev = evaluate(ms.workload, arch, m, options=model)
        loops = [(j, lp) for j, lm in enumerate(m.levels) for lp in lm.temporal if lp.factor > 1]
        cycles = math.prod(lp.factor for _, lp in loops)
        for t in w.tensors:
            keepers = [i for i, lm in enumerate(m.levels) if t.name in lm.keep]
            axes = [[d for c, d in axis if c != 0] for axis in t.axes]
            dims = {d for a in axes for d in a}
            k = keepers[-1]  # rule V at the innermost keeper
            if len({d for a in axes for d in a}) == sum(len(a) for a in axes):
                distinct = 1
                for lm in m.levels[k:]:
                    sp = {}
                    for lp in lm.spatial:
                        sp[lp.dim] = sp.get(lp.dim, 1) * lp.factor
                    distinct *= math.prod(max([sp.get(d, 1) for d in a]) for a in axes)
                    if any(len(a) > 1 and max(sp.get(d, 1) for d in a) > 1 for a in axes):
                        bites.add("V")
                s = ev.levels[k].tensors[t.name]  # per instance
                served = s.updates if t.read_write else s.reads
                assert served >= cycles * distinct - 1e-6, (mid, t.name, served, cycles,
                                                             distinct)
            if not loops or len(keepers) < 2:
                continue
            j0, d0, f0 = loops[0][0], loops[0][1].dim, loops[0][1].factor
            k1, lv = keepers[1], arch.levels[keepers[1]]
            if lv.capacity_words is None or k1 <= j0 or d0 in dims:
                continue
            H, held = _held_words(t, lv, m, k1, dims)
            T = touched_words(t, w)
            s0 = ev.levels[0].tensors[t.name]
            served = s0.updates if t.read_write else s0.reads
            want = T + (f0 - 1) * max(T - held, 0)
            assert served >= want, (mid, t.name, d0, f0, served, want)
            if T > held and (f0 > 2 or held < H):
                bites.add("O")
        bites |= _pair_claims(w, arch, m, ev, loops)
    return bites


def _held_words(t, lv, m, k1, dims) -> tuple[int, int]:
    """What the first keeper ``k1`` (level spec ``lv``) below the outermost level can hold
    of tensor ``t`` at once, counted by hand from mapping ``m``: ``H``, its capacity in
    words of ``t`` times its instances (for a simple tensor, only those holding distinct
    tiles), and ``H'``, for a simple tensor the least of ``H`` and the words of one
    iteration of the temporal loops above ``k1`` (``H`` otherwise)."""
    spatial = [(lp.dim, lp.factor) for lm in m.levels[:k1] for lp in lm.spatial]
    copies = int(np.prod([f for d, f in spatial if is_simple(t) and d not in dims]))
    H = int(np.prod([f for _, f in spatial])) // copies * \
        (lv.capacity_words * lv.word_bits // lv.bits(t.name))
    if not is_simple(t):
        return H, H
    span = 1
    for d in dims:
        every = math.prod(lp.factor for lm in m.levels
                          for lp in lm.temporal + lm.spatial_x + lm.spatial_y if lp.dim == d)
        above = math.prod(lp.factor for lm in m.levels[:k1] for lp in lm.temporal
                          if lp.dim == d)
        span *= every // above
    return H, min(H, span)


def _pair_claims(w, arch, m, ev, loops) -> set[str]:
    """Rule O's cases at the outermost level: with its first two non-unit loops over
    ``d0`` (factor ``F0``) and ``d1`` (``F1``), the outermost level serves a tensor (first
    keeper ``k1`` below it) at least ``T + (F0 F1 - 1)(T - H')`` words when neither
    indexes it, ``T + (F1 - 1)(T - F0 H')`` when ``d0`` makes up one of its axes alone
    (simple tensor) and ``d1`` does not index it, ``F1 T - (F0 F1 - 1) H'`` when ``d0``
    indexes it otherwise; with ``d0``'s loop alone there and no loop between it and
    ``k1``, ``k1`` holds ``T / F0`` (``d0`` indexes the tensor) or ``T`` words at once."""
    at0 = [lp for j, lp in loops if j == 0]
    bites = set()
    for t in w.tensors:
        keepers = [i for i, lm in enumerate(m.levels) if t.name in lm.keep]
        if not at0 or len(keepers) < 2:
            continue
        k1, lv = keepers[1], arch.levels[keepers[1]]
        if lv.capacity_words is None:
            continue
        dims = {d for axis in t.axes for c, d in axis if c != 0}
        H, held = _held_words(t, lv, m, k1, dims)
        T = touched_words(t, w)
        s0 = ev.levels[0].tensors[t.name]
        served = s0.updates if t.read_write else s0.reads
        d0, f0 = at0[0].dim, at0[0].factor
        if len(at0) == 1:
            if not any(lp.factor > 1 for lm in m.levels[1:k1] for lp in lm.temporal):
                assert (T / f0 if d0 in dims else T) <= H, (t.name, d0, f0, T, H)
            continue
        d1, f1 = at0[1].dim, at0[1].factor
        if d1 in dims:
            continue
        if d0 not in dims:
            want = T + (f0 * f1 - 1) * max(T - held, 0)
        elif is_simple(t) and d0 in solo_dims(t):
            want = T + (f1 - 1) * max(T - f0 * held, 0)
        else:
            want = f1 * T - (f0 * f1 - 1) * held
        assert served >= want, (t.name, d0, f0, d1, f1, served, want)
        if want > T:
            bites.add("O2")
    return bites


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.semantics}-links{m.link_transfers}")
def test_claims_on_a_mini_eyeriss(model):
    """Both claims on a convolution whose scratchpads and buffer hold a few words; each
    says more than the older rules on some drawn mapping."""
    w = conv2d(C=2, M=4, P=6, Q=3, R=3, S=2)
    assert _claims_hold(Mapspace(w, small_spads(24)), model, 80, seed=11) == {"O", "O2", "V"}


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({"C": st.integers(1, 2), "M": st.integers(1, 3),
                              "P": st.integers(2, 6), "Q": st.integers(1, 3),
                              "R": st.integers(1, 3), "S": st.integers(1, 2)}),
       st.integers(1, 2), st.integers(4, 24), st.sampled_from(MODELS), st.integers(0, 2**31))
def test_claims_on_random_layers(dims, stride, glb_words, model, seed):
    """Random strided convolutions on the mini Eyeriss with a small global buffer."""
    a = small_spads(glb_words)
    try:
        ms = Mapspace(conv2d(**dims, stride=stride), a)
    except Exception:  # a layer this architecture cannot map
        return
    _claims_hold(ms, model, 6, seed)


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.sampled_from(MODELS))
def test_front_equals_brute_force_with_the_interior_rules(ms, model):
    """Every node above a single tiling bounded (``block=1``), so rule P runs with rules
    O and V at every interior node."""
    check_exact(ms, None, ("energy_pj", "cycles"), model, block=1, warm_start=16)


def _window_on_two_macs():
    """``O[p] += W[r] * I[p + r]`` (P 2, R 2: 4 MACs, 3 input words) on DRAM (free)
    above a buffer Buf (1 pJ a read, else free) feeding 2 MACs (free) along X; the
    mapping spreads P over the MACs and runs R at Buf, which keeps every tensor."""
    w = einsum("O[p] += W[r] * I[p+r]", {"p": 2, "r": 2})
    levels = (StorageLevel("DRAM", instances=1, mesh_x=1, mesh_y=1),
              StorageLevel("Buf", instances=1, mesh_x=1, mesh_y=1, read_energy_pj=1.0))
    a = Architecture("buf2", levels, ComputeLevel("MAC", 2, 2, 1, energy_pj=0.0))
    names = w.tensor_names
    m = Mapping((LevelMapping("DRAM", (), keep=names),
                 LevelMapping("Buf", (Loop("r", 2),), spatial_x=(Loop("p", 2),), keep=names)))
    return w, a, m


def test_rule_v_by_hand():
    """Hand count. The mapping runs 2 cycles (R); in each the two MACs read the inputs at
    p + r for p = 0 and 1: two different words, so Buf reads 4 input words (the model
    says so). B3 counts only the solo dimensions' spatial factors as distinct origins:
    P shares its axis with R, so it counts 1 origin, 2 reads; rule V counts the axis's
    largest spatial factor, 2: 4 reads, exact here. Buf reads the weights once a cycle
    (P does not index them: multicast, 2) and is read for the outputs' two words per
    cycle less the partition (2 x 2 - 2 = 2): 8 pJ in all, which rule V's bound of the
    mapping's own combination reaches and rule P's stays 2 pJ below."""
    w, a, m = _window_on_two_macs()
    ms = Mapspace(w, a)
    ev = evaluate(w, a, m)
    assert ev.levels[1].tensors["I"].reads == 4
    bd = Bounder(w, a, structure(ms))
    origins = CompoundOrigins(bd)
    ti = [t.name for t in bd.workload.tensors].index("I")
    rows = bd.st.tiling_rows(ms.id(m))
    pos = np.prod([bd.dims[di].pos[r] for di, r in enumerate(rows)], axis=0)[None]
    neg = np.prod([bd.dims[di].neg[r] for di, r in enumerate(rows)], axis=0)[None]
    sp = np.stack([bd.dims[di].sx[r] * bd.dims[di].sy[r] for di, r in enumerate(rows)])[None]
    f = origins.factor(sp.astype(float))
    plain = bd.chain_energy(ti, (0, 1), pos, neg)[0]
    withv = bd.chain_energy(ti, (0, 1), pos * f, neg)[0]
    assert plain == pytest.approx(2.0) and withv == pytest.approx(4.0)
    assert ev.levels[1].tensors["I"].energy_pj == pytest.approx(4.0)


def _cut(w, m, picks):
    """The layer and mapping of one iteration of the temporal loops ``picks`` ((level,
    position) pairs): their factors 1, their dimensions' bounds divided by them."""
    lv, bounds = list(m.levels), dict(zip(w.dims, w.bounds))
    for j, i in picks:
        lp = lv[j].temporal[i]
        bounds[lp.dim] //= lp.factor
        lv[j] = dataclasses.replace(lv[j], temporal=tuple(
            dataclasses.replace(x, factor=1) if k == i else x
            for k, x in enumerate(lv[j].temporal)))
    return dataclasses.replace(w, bounds=tuple(bounds[d] for d in w.dims)), Mapping(tuple(lv))


def _refetch_claim(ms: Mapspace, model: ModelOptions, n: int, seed: int) -> int:
    """Rule O's refill term on ``n`` drawn mappings (links off). A block of outermost
    loops whose iterations repeat a read-only tensor's tiles (the first loop, or the
    first two when neither indexes the tensor, or the second when the first indexes it)
    of ``F`` iterations fills a keeper ``c`` below it at least ``F - (F - 1) / n`` times
    what one iteration of the block does (the same mapping with those loops' factors 1 on
    a layer with their bounds divided), ``n`` the product of the temporal factors above
    ``c`` of the tensor's solo dimensions inside the block. Returns how many (mapping,
    tensor, keeper, block) had ``n > 1`` and a non-zero fill."""
    w = ms.workload
    bit = 0
    for mid, m in ms.sample(n, seed=seed):
        loops = [(j, i, lp) for j, lm in enumerate(m.levels)
                 for i, lp in enumerate(lm.temporal) if lp.factor > 1]
        if not loops or any(lp.residual is not None for lm in m.levels
                            for lp in lm.temporal + lm.spatial_x + lm.spatial_y):
            continue
        ev = evaluate(w, ms.arch, m, options=model)
        for t in without_unit_terms(w).tensors:
            if t.read_write:
                continue
            dims = {d for axis in t.axes for c, d in axis if c != 0}
            solo = solo_dims(t)
            blocks = []
            top = loops[0][2]
            if top.dim not in dims:
                blocks.append(([loops[0][:2]], top.factor, 1))
            if len(loops) > 1 and loops[1][0] == 0 and loops[1][2].dim not in dims:
                sec = loops[1][2]
                if top.dim not in dims:
                    blocks.append(([loops[0][:2], loops[1][:2]], top.factor * sec.factor, 1))
                else:  # the second loop inside the first, which indexes the tensor
                    blocks.append(([loops[1][:2]], sec.factor,
                                   top.factor if top.dim in solo else 1))
            for picks, f, inside in blocks:
                one, m1 = _cut(w, m, picks)
                ev1 = evaluate(one, ms.arch, m1, options=model)
                for c, lm in enumerate(m.levels):
                    if c <= picks[-1][0] or t.name not in lm.keep:
                        continue
                    steps = math.prod(lp.factor for l2 in m.levels[:c] for lp in l2.temporal
                                      if lp.dim in solo) / inside
                    full = ev.levels[c].tensors[t.name].fills
                    part = ev1.levels[c].tensors[t.name].fills
                    assert full >= (f - (f - 1) / max(steps, 1)) * part - 1e-6, \
                        (mid, t.name, c, picks, f, steps, full, part)
                    bit += steps > 1 and part > 0
    return bit


@pytest.mark.parametrize("model", [m for m in MODELS if not m.link_transfers],
                         ids=lambda m: m.semantics)
def test_refetch_claim_on_a_mini_eyeriss(model):
    w = conv2d(C=2, M=4, P=6, Q=3, R=3, S=2)
    assert _refetch_claim(Mapspace(w, small_spads(24)), model, 80, seed=13) > 0


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.integers(0, 2**31),
       st.sampled_from([m for m in MODELS if not m.link_transfers]))
def test_refetch_claim_on_random_spaces(ms, seed, model):
    _refetch_claim(ms, model, 8, seed)
