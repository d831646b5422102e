"""The brute-force simulator against the analytical nest model, and hand-derived cases.

The property test checks ``analyze`` (closed forms, costmodels/nest.py) against
``simulate`` (explicit coordinate sets, costmodels/simulator.py) on random small
layers, architectures and mappings, for both schedules. The explicit tests pin numbers
derived by hand from docs/semantics.md, independently of both implementations.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from strategies import problems

from loopscape.costmodels.nest import analyze
from loopscape.costmodels.options import ModelOptions
from loopscape.costmodels.simulator import SCHEDULES, SimCounts, simulate
from loopscape.spaces import (Architecture, ComputeLevel, LevelMapping, Loop, Mapping,
                              StorageLevel, einsum, gemm)

T3 = ("Weights", "Inputs", "Outputs")
CONV1D = "Outputs[k,p] += Weights[c,k,r] * Inputs[c,r+p]"
FIELDS = ("tile_words", "partition_words", "reads", "fills", "updates")


def _arch(*meshes_x: int, pes: int | None = None) -> Architecture:
    """Unbounded levels L0, L1, ... whose X meshes are ``meshes_x``; MACs under the last."""
    levels = tuple(StorageLevel(f"L{i}", instances=x, mesh_x=x) for i, x in enumerate(meshes_x))
    pes = pes or meshes_x[-1]
    return Architecture("hand", levels, ComputeLevel("MAC", pes, pes, 1))


def _lm(name: str, temporal: str = "", keep: tuple[str, ...] = T3, x: str = "") -> LevelMapping:
    """A level from compact loop strings such as ``"p2 k3"`` (outermost first)."""
    def loops(text: str) -> tuple[Loop, ...]:
        return tuple(Loop(tok[0], int(tok[1:])) for tok in text.split())
    return LevelMapping(name, loops(temporal), loops(x), (), keep)


def _both(w, a, m, schedule: str, options=None) -> dict[tuple[int, str], SimCounts]:
    """Simulator counts, after asserting the analytical model agrees on every field."""
    sim = simulate(w, a, m, schedule, options)
    ana = analyze(w, a, m, schedule, options).traffic
    out = {}
    for i, level in enumerate(sim):
        assert set(level) == set(ana[i])
        for t, c in level.items():
            assert c == SimCounts(*(getattr(ana[i][t], f) for f in FIELDS)), (i, t)
            out[(i, t)] = c
    return out


# ---------------------------------------------------------------------------------------
# Property test: analytical model == simulator
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule", SCHEDULES)
@settings(max_examples=600)
@given(problem=problems())
def test_analytical_model_matches_the_simulator(problem, schedule):
    w, a, m = problem
    sim = simulate(w, a, m, schedule)
    ana = analyze(w, a, m, schedule).traffic
    for i, level in enumerate(sim):
        assert set(level) == set(ana[i]), f"level {i} keeps different tensors"
        for t, counts in level.items():
            # The partition is defined for read-write tensors only (docs/semantics.md: "the
            # number of distinct output elements one instance is responsible for"); the
            # model's value for read-only tensors feeds no count, so it is not compared.
            fields = FIELDS if w.tensor(t).read_write else \
                tuple(f for f in FIELDS if f != "partition_words")
            for f in fields:
                assert getattr(counts, f) == getattr(ana[i][t], f), \
                    f"{a.levels[i].name} {t} {f}: simulator {getattr(counts, f)}, " \
                    f"model {getattr(ana[i][t], f)}"


# ---------------------------------------------------------------------------------------
# Hand-derived cases
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule", SCHEDULES)
def test_design_worked_example_ex04_kp(schedule):
    # Timeloop exercise 04 (tests/fixtures/timeloop/ex04_conv1d_oc_ic_3levelspatial_kp):
    # C=32, K=32, R=3, P=16. MainMemory fans out K16 to 16
    # GlobalBuffers (each over its own RegisterFile); GlobalBuffer loops C32 K2 R3;
    # RegisterFile loops P16.
    w = einsum("Outputs[K,P] += Weights[C,K,R] * Inputs[C,R+P]",
               {"C": 32, "K": 32, "R": 3, "P": 16})
    a = Architecture("ex04", (StorageLevel("MainMemory"),
                              StorageLevel("GlobalBuffer", 16, 16, 1),
                              StorageLevel("RegisterFile", 16, 16, 1)),
                     ComputeLevel("MACC", 16, 16, 1))
    m = Mapping((LevelMapping("MainMemory", (), (Loop("K", 16),), (), T3),
                 LevelMapping("GlobalBuffer", (Loop("C", 32), Loop("K", 2), Loop("R", 3)),
                              (), (), T3),
                 LevelMapping("RegisterFile", (Loop("P", 16),), (), (), T3)))
    c = _both(w, a, m, schedule)
    # RegisterFile Inputs: tile p0..15 + r = 16 wide. Per (c, k): r=0 fetches 16, r=1 and
    # r=2 slide by 1 (1 each); when K (or C) advances, R jumps from 2 back to 0: the
    # stride changes, the window is discarded. 32 x 2 (c, k) pairs x 18 = 1,152.
    # Timeloop: per (c, k) index pair, 16 + 2 x 1 (R's index 1 weighs 2 slides), and the
    # pairs weigh 1 + 1 + 31 + 31 = 64: the same 64 x 18.
    assert c[(2, "Inputs")] == SimCounts(16, 576, 3072, 64 * 18, 0)
    # RegisterFile Weights: one weight per GlobalBuffer iteration (32 x 2 x 3 = 192), one
    # read per MAC (3,072 MACs per instance).
    assert c[(2, "Weights")] == SimCounts(1, 192, 3072, 192, 0)
    # RegisterFile Outputs: tile k x p0..15 = 16. C and R are irrelevant: within one k
    # the R loop keeps the tile stationary (T = 0), and every change of k or c moves it,
    # which after a stationary phase refetches it whole: 32 x 2 x 16 = 1,024 fetches,
    # minus the first fill of its 32 outputs = 992 fills. Updates: one per MAC, 3,072;
    # reads: minus the 32 first updates = 3,040.
    assert c[(2, "Outputs")] == SimCounts(16, 32, 3040, 992, 3072)
    # GlobalBuffer Inputs: tile 32 x 18 = 576 fetched once; serves the RF's 1,152.
    assert c[(1, "Inputs")] == SimCounts(576, 576, 1152, 576, 0)
    # GlobalBuffer Outputs: tile k2 x p16 = 32, fetched once (nothing temporal above),
    # and its 32 outputs are its partition: fills 32 - 32 = 0. It serves the RF's 1,024
    # fetches as updates; reads 1,024 - 32 = 992.
    assert c[(1, "Outputs")] == SimCounts(32, 32, 992, 0, 1024)
    # MainMemory: Inputs multicast to all 16 (K is irrelevant): 576 reads; Weights differ
    # per instance: 16 x 192; Outputs: 16 x 32 updates, never read.
    assert c[(0, "Inputs")].reads == 576
    assert c[(0, "Weights")].reads == 3072
    assert c[(0, "Outputs")] == SimCounts(512, 512, 0, 0, 512)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_gemm_counts_agree_between_schedules(schedule):
    # Outputs[M][N] += Inputs[M][K] * Weights[K][N], M=4, N=2, K=6 (48 MACs, one PE).
    # L0 loops K3 M2 (outermost first), L1 loops N2 K2 M2: L1 tiles are 2x2 = 4 words.
    w = gemm(M=4, N=2, K=6)
    m = Mapping((_lm("L0", "K3 M2"), _lm("L1", "N2 K2 M2")))
    c = _both(w, _arch(1, 1), m, schedule)
    # L1 visits (k, m): (0,0) (0,1) (1,0) (1,1) (2,0) (2,1).
    # Weights[K][N] ignore M: fetch 4, stay (t=0), move (t changes: whole 4), stay, ...
    # = 3 x 4 = 12, each weight once. Timeloop: 4 + 0 + 2 x (4 + 0) = 12.
    assert c[(1, "Weights")] == SimCounts(4, 12, 48, 12, 0)
    # Inputs[M][K] move at every visit to a disjoint tile: 6 x 4 = 24.
    # Timeloop: 4 + 4 + 2 x (4 + 4) = 24.
    assert c[(1, "Inputs")] == SimCounts(4, 24, 48, 24, 0)
    # Outputs[M][N]: the tile alternates between m0 and m1 and is refetched whole every
    # visit: 24 fetches, 8 outputs -> fills 24 - 8 = 16; 48 updates, reads 48 - 8 = 40.
    assert c[(1, "Outputs")] == SimCounts(4, 8, 40, 16, 48)
    # L0 serves L1's fetches.
    assert c[(0, "Weights")] == SimCounts(12, 12, 12, 0, 0)
    assert c[(0, "Inputs")] == SimCounts(24, 24, 24, 0, 0)
    assert c[(0, "Outputs")] == SimCounts(8, 8, 16, 0, 24)


def test_timeloop_discards_a_window_the_exact_walk_keeps_sliding():
    # Inputs[c][p + r] with c = k = 1, R=3, P=6 split as L0 P2 (outer) and L1 P3 (inner);
    # L1 keeps nothing, L2 loops R3 and keeps everything: its Inputs tile is 3 wide.
    w = einsum(CONV1D, {"c": 1, "k": 1, "r": 3, "p": 6})
    m = Mapping((_lm("L0", "p2"), _lm("L1", "p3", keep=()), _lm("L2", "r3")))
    a = _arch(1, 1, 1)
    exact = _both(w, a, m, "exact")
    timeloop = _both(w, a, m, "timeloop")
    # Exact: p = 0, 1, ..., 5; the window slides by 1 at every visit, across the wrap of
    # the P3 loop too (p 2 -> 3): 3 + 5 x 1 = 8 fills.
    assert exact[(2, "Inputs")].fills == 8
    # Timeloop: visits (0,0) (0,1)x2 (1,0) (1,1)x2 = p 0, 1, 3, 4. p0: 3; p1: slides by 1,
    # 1 x 2; p3: moved by 2 != 1, discarded: 3; p4: slides again (no stride recorded):
    # 1 x 2. 3 + 2 + 3 + 2 = 10 fills.
    assert timeloop[(2, "Inputs")].fills == 10
    # L1 bypasses Inputs: L0 serves the same words. Reads at L2: one per MAC (18).
    assert exact[(0, "Inputs")].reads == 8 and timeloop[(0, "Inputs")].reads == 10
    assert exact[(2, "Inputs")].reads == timeloop[(2, "Inputs")].reads == 18


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_stationary_phase_makes_the_next_move_refetch_the_whole_tile(schedule):
    # Inputs[c][p + r], c=1, K=2, R=3, P=3. L1 loops R3: its Inputs tile is 3 wide.
    w = einsum(CONV1D, {"c": 1, "k": 2, "r": 3, "p": 3})
    a = _arch(1, 1)
    # L0 loops P3 then K2 (K inner, irrelevant to Inputs). Visits (p, k):
    # (0,0) 3; (0,1) stationary: 0, T = 0; (1,0) moves by 1 != T: whole 3, T none;
    # (1,1) 0, T = 0; (2,0) 3; (2,1) 0 -> 9 under Timeloop before PR #297: 3 + 0 +
    # 2 x (3 + 0) = 9. After #297 the stationary visit leaves T alone, so the window
    # slides: 3 + 0 + 1 + 0 + 1 + 0 = 5 (Timeloop's schedule: 3 + 0 + 2 x (1 + 0) = 5).
    m = Mapping((_lm("L0", "p3 k2"), _lm("L1", "r3")))
    stationary = _both(w, a, m, schedule, ModelOptions(semantics="timeloop-pre297"))
    assert stationary[(1, "Inputs")].fills == 9
    assert _both(w, a, m, schedule)[(1, "Inputs")].fills == 5
    # K outer, P inner: per k the window slides: 3 + 1 + 1, then K advances and the
    # window jumps back (stride changes): 2 x 5 = 10. Timeloop: (0,0) 3; (0,1) slides,
    # 1 x 2; (1,0) jumps by -1: 3; (1,1) 1 x 2 -> 10.
    moving = _both(w, a, Mapping((_lm("L0", "k2 p3"), _lm("L1", "r3"))), schedule)
    assert moving[(1, "Inputs")].fills == 10


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_multicast_serves_shared_inputs_once(schedule):
    # c=2, k=4, r=3, p=4: L0 fans out K4 to four L1 instances, each looping c2 p4 r3.
    w = einsum(CONV1D, {"c": 2, "k": 4, "r": 3, "p": 4})
    m = Mapping((_lm("L0", x="k4"), _lm("L1", "c2 p4 r3")))
    c = _both(w, _arch(1, 4), m, schedule)
    # L1 tiles (one visit, nothing temporal above): Inputs c2 x (4 + 3 - 1) = 12,
    # Weights c2 x k1 x r3 = 6, Outputs k1 x p4 = 4; 24 MACs per instance.
    # Inputs: all four children have the same tile (K is irrelevant): served once, 12.
    assert c[(0, "Inputs")].reads == 12
    # Weights: four distinct tiles: 4 x 6 = 24.
    assert c[(0, "Weights")].reads == 24
    # Outputs: four distinct tiles of 4 = 16 updates; 16 outputs, none read back.
    assert c[(0, "Outputs")] == SimCounts(16, 16, 0, 0, 16)
    assert c[(1, "Inputs")] == SimCounts(12, 12, 24, 12, 0)
    # Partition 16 x 4 // 16 = 4: fills 4 - 4 = 0, reads 24 - 4 = 20.
    assert c[(1, "Outputs")] == SimCounts(4, 4, 20, 0, 24)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_spatial_reduction_updates_shared_outputs_once(schedule):
    # c=2, k=1, r=3, p=4: L0 fans out C2; each L1 loops p4 r3.
    w = einsum(CONV1D, {"c": 2, "k": 1, "r": 3, "p": 4})
    m = Mapping((_lm("L0", x="c2"), _lm("L1", "p4 r3")))
    c = _both(w, _arch(1, 2), m, schedule)
    # Both children update the same 4 outputs (C is irrelevant to Outputs): reduced, 4.
    assert c[(0, "Outputs")] == SimCounts(4, 4, 0, 0, 4)
    # Inputs and weights differ per c: 2 x 6 and 2 x 3.
    assert c[(0, "Inputs")].reads == 12 and c[(0, "Weights")].reads == 6
    # L1 Outputs: partition 4 x 4 // 4 = 4; 12 updates (p4 x r3), reads 12 - 4.
    assert c[(1, "Outputs")] == SimCounts(4, 4, 8, 0, 12)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_bypass_passes_each_distinct_child_stream_up(schedule):
    # c=1, k=2, r=3, p=4. L0 loops K2; L1 fans out P2 (step 2) and bypasses Inputs;
    # L2 loops P2 R3 and keeps everything.
    w = einsum(CONV1D, {"c": 1, "k": 2, "r": 3, "p": 4})
    m = Mapping((_lm("L0", "k2"), _lm("L1", x="p2", keep=("Weights", "Outputs")),
                 _lm("L2", "p2 r3")))
    c = _both(w, _arch(1, 1, 2), m, schedule)
    # L2 Inputs tile: p 0..1 + r 0..2 = 4 wide; K is irrelevant: fetched once, 4; it
    # holds inputs 0-3 only. L2 reads: 12 MACs per PE (k2 x p2 x r3).
    assert c[(2, "Inputs")] == SimCounts(4, 4, 12, 4, 0)
    # The two children's tiles start at p = 0 and 2 (inputs 0-3 and 2-5): different
    # origins, so L1 would serve 2 x 4 = 8, and L0 serves those 8 for it, although only
    # 6 distinct inputs exist.
    assert c[(0, "Inputs")].reads == 8
    assert (1, "Inputs") not in c
    # Weights: L1 tile r3 = 3, fetched per k: 6; both children need the same weights.
    assert c[(1, "Weights")] == SimCounts(3, 6, 6, 6, 0)
    assert c[(0, "Weights")].reads == 6
    # Outputs: L2 tile p2 = 2, fetched per k: 4 per child, 2 distinct children: L1
    # updates 8; L1's 8 outputs (k2 x p4) are its partition, so no reads, no fills.
    assert c[(1, "Outputs")] == SimCounts(4, 8, 0, 0, 8)
    assert c[(2, "Outputs")] == SimCounts(2, 4, 8, 0, 12)


def test_unknown_schedule_is_rejected():
    w = gemm(M=1, N=1, K=1)
    with pytest.raises(ValueError, match="unknown schedule"):
        simulate(w, _arch(1), Mapping((_lm("L0"),)), "fast")
