"""``local``'s exchange move (two dimensions trade a prime factor across two slots): every
slot keeps its product, exactly one prime moves each way, and it leaves a point that no
single move of the other kinds improves (checked against every such neighbour); ``auto``'s
local phase turns it on, ``local`` alone keeps it off."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from loopscape.costmodels.batched import evaluate_batch
from loopscape.mapper import search
from loopscape.mapper.strategies import AutoSearch, LocalSearch, Moves
from loopscape.mapper.strategies.auto import LOCAL_OPTIONS
from loopscape.mapper.strategy import SearchContext
from loopscape.spaces.arrays import Genes, SpaceArrays
from loopscape.spaces.encoding import encode
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, resolve_arch, resolve_workload
from loopscape.spaces.workload import gemm

ARCH = "eyexam_conv1d_array"  # DRAM, a 112-word buffer, a 4x4 mesh of 48-word RegFiles
X_ID = 19_229_219  # a point of gemm 8x8x4 that the other single moves cannot improve


@pytest.fixture(scope="module")
def space():
    w, a = gemm(M=8, N=8, K=4, name="g884"), load_arch_preset(ARCH)
    ms = Mapspace(w, a)
    return w, a, ms, Moves(SpaceArrays(ms), np.random.default_rng(0))


def _edp(w, a, ms, s, g: Genes) -> np.ndarray:
    """EDP of each row (inf when illegal), rows put in canonical order first."""
    A = s.arrays
    b = A.batch(g)
    A.canonical(g, b)
    ok = A.legal(b)
    r = evaluate_batch(w, a, b)
    return np.where(ok, r.energy_pj * r.cycles, np.inf)


def _slot_factors(s, g: Genes) -> np.ndarray:
    """[N, D, L, 3]: each dimension's temporal, X and Y factor per level, read from the
    mapping rows the candidates stand for."""
    b = s.arrays.batch(g)
    return np.stack([b.temporal, b.spatial_x, b.spatial_y], axis=-1).transpose(0, 2, 1, 3)


def test_an_exchange_keeps_every_slots_product_and_moves_one_prime_each_way(space):
    w, a, ms, s = space
    g0 = s.arrays.fresh(400, np.random.default_rng(5))
    g = g0.take(np.arange(len(g0)))
    s.exchange(g, np.arange(len(g)))
    changed = np.nonzero((g.fi != g0.fi).any(axis=1))[0]
    assert len(changed) > 100  # most draws find a trade
    assert ((g.fi != g0.fi).sum(axis=1)[changed] == 2).all()  # exactly two dimensions
    f0, f1 = _slot_factors(s, g0)[changed], _slot_factors(s, g)[changed]
    # Every level keeps its temporal product and its spatial product over the dimensions.
    assert (f0[..., 0].prod(axis=1) == f1[..., 0].prod(axis=1)).all()
    assert ((f0[..., 1] * f0[..., 2]).prod(axis=1) == (f1[..., 1] * f1[..., 2]).prod(axis=1)).all()
    for r in range(len(changed)):
        dims = np.nonzero((f0[r] != f1[r]).any(axis=(1, 2)))[0]
        assert len(dims) == 2
        # Per slot (level and kind, X and Y together for a mesh) each dimension gains
        # a prime p at one slot and loses it at another; the other dimension the reverse.
        per = [np.stack([f[r, d, :, 0], f[r, d, :, 1] * f[r, d, :, 2]]) for f in (f0, f1)
               for d in dims]
        ratio_1 = per[2] / per[0]
        ratio_2 = per[3] / per[1]
        up, down = ratio_1[ratio_1 > 1], ratio_1[ratio_1 < 1]
        assert len(up) == 1 and len(down) == 1 and up[0] * down[0] == pytest.approx(1)
        p = int(round(up[0]))
        assert p > 1 and all(p % q for q in range(2, p))  # a prime
        np.testing.assert_allclose(ratio_2 * ratio_1, 1)  # the other way round


def _old_neighbours(s, g0: Genes) -> Genes:
    """Every point one move of the other kinds away: any factorization of one dimension
    (covers prime moves and re-draws), any order of one level's loops (covers swaps and
    sweeps), one keep bit flipped."""
    A = s.arrays
    out = []
    for d, tab in enumerate(A.tables):
        gg = g0.take(np.zeros(tab.size, dtype=np.int64))
        gg.fi[:, d] = np.arange(tab.size)
        out.append(gg)
    for i in A.orderable:
        fd = A.free[i]
        perms = list(itertools.permutations(range(len(fd))))
        gg = g0.take(np.zeros(len(perms), dtype=np.int64))
        gg.rank[:, i, fd] = A.free_start[i] + np.array(perms)
        out.append(gg)
    for i, t in A.keep_free:
        gg = g0.take(np.array([0]))
        gg.keep[0, i, t] = ~gg.keep[0, i, t]
        out.append(gg)
    return Genes.concat(out)


def test_an_exchange_leaves_a_local_optimum_of_the_other_moves(space):
    w, a, ms, s = space
    A = s.arrays
    g0 = A.genes(encode(w, a, [ms.mapping(X_ID)]))
    e0 = _edp(w, a, ms, s, g0.take(np.array([0])))[0]
    assert math.isfinite(e0)
    old = _old_neighbours(s, g0)
    assert len(old) > 60
    assert _edp(w, a, ms, s, old).min() >= e0  # no single old move improves X
    g = g0.take(np.zeros(2000, dtype=np.int64))
    s.exchange(g, np.arange(len(g)))
    assert _edp(w, a, ms, s, g).min() < e0 * (1 - 1e-6)  # one exchange does


def test_local_with_exchanges_is_deterministic_given_the_seed():
    w, a = gemm(M=8, N=8, K=4, name="g884"), load_arch_preset(ARCH)
    runs = [search(w, a, strategy="local", evaluations=3000, seed=7,
                   strategy_options={"exchange": 0.5, "init": 200}) for _ in range(2)]
    fronts = [sorted((p.mapspace_id, tuple(p.objectives.values())) for p in r.front)
              for r in runs]
    assert fronts[0] == fronts[1]


def test_bad_exchange_share_is_an_error():
    with pytest.raises(SpecError, match="exchange"):
        LocalSearch(exchange=1.5)


def test_autos_local_phase_runs_with_exchanges_and_quick_restarts():
    ms = Mapspace(resolve_workload("resnet50_conv2_x_3x3"), resolve_arch("simba_like"))
    auto = AutoSearch()
    auto.setup(SearchContext(ms, ("energy_pj", "cycles"), (), seed=0))
    assert LOCAL_OPTIONS == {"exchange": 0.3, "restart": 2000}
    assert (auto.local.exchange, auto.local.restart) == (0.3, 2000)
    # prime moves 0.5, re-draws 0.1, swaps 0.3, keep flips 0.1, exchanges 0.3
    assert auto.local.moves.kind_p[-1] == pytest.approx(0.3 / 1.3)
    plain = LocalSearch()
    assert (plain.exchange, plain.restart) == (0.0, 20_000)  # local alone draws as before
