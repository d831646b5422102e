"""Link effects computed in numpy for a whole batch (costmodels/link_effects_batched.py)
equal the scalar ``links.link_effects`` on every row: a hand-counted row-stationary case,
random small problems and row-stationary problems under both semantics, and random
samples of every preset architecture with every preset layer. The batched model with
links on equals the scalar evaluator on the rows that use links."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import architectures, layers, mappings, problems

from loopscape.costmodels import ModelOptions
from loopscape.costmodels.link_effects_batched import LinkEffectsBatch
from loopscape.costmodels.link_filter import LinkFilter, mapping_link_effects
from loopscape.spaces import (Architecture, ComputeLevel, LevelMapping, Loop, Mapping,
                              StorageLevel, einsum)
from loopscape.spaces.encoding import decode, encode
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import (list_presets, load_arch_preset, load_layer_preset,
                                      resolve_constraints)

from test_batched import assert_rows_match
from test_link_filter import bypassing_children
from test_semantics import T3, row_stationary

OPTIONS = (ModelOptions(link_transfers=True),
           ModelOptions(semantics="timeloop-pre297", link_transfers=True))
ARCHS = tuple(p.name for p in list_presets("architecture"))
LAYERS = tuple(p.name for p in list_presets("layer"))


def per_row(w, effects: dict, n: int) -> list[dict]:
    """The batched effects as, per row, {(child level, tensor): (saved words, fills, extra
    reads) or the bypass ratio}."""
    out = [dict() for _ in range(n)]
    for (c, ti), (saved, fills, extra, has, num, den) in effects.items():
        for r in range(n):
            if has[r]:
                out[r][c, w.tensor_names[ti]] = (int(saved[r]), int(fills[r]), int(extra[r]))
            elif den[r] != 0:
                out[r][c, w.tensor_names[ti]] = Fraction(int(num[r]), int(den[r]))
    return out


def scalar(w, a, m, options) -> dict:
    return {key: e.bypass_ratio if e.bypass_ratio is not None else
            (e.saved_words, e.fills, e.extra_reads)
            for key, e in mapping_link_effects(w, a, m, options).items()}


def assert_effects_match(w, a, batch, options) -> int:
    """Every row's batched effects equal the scalar ones (computed on every row, not only
    where the pre-filter flags); returns the rows that use links."""
    got = per_row(w, LinkEffectsBatch(w, a, options.keeps_stationary_translation)
                  .effects(batch, np.arange(len(batch))), len(batch))
    flags = LinkFilter(w, a, options.keeps_stationary_translation).flags(batch)
    used = 0
    for r in range(len(batch)):
        want = scalar(w, a, decode(w, a, batch, r), options)
        assert got[r] == want, (r, options.semantics, got[r], want)
        if want:
            used += 1
            assert flags[r], r
    return used


def test_hand_counted_row_stationary_case():
    """x[p + r] on three one-word registers (r on Y, a column of 3 PEs) under p4: at the
    first visit the parent sends 3 words; at each of the 3 later visits child r takes
    x[p + r + 1] from child r + 1, which got it the step before, and only child 2 gets a
    word from the parent. Parent words: 3 + 3 = 6 instead of 3 + 3 * 3 = 12 (6 saved);
    link words 3 * 2 = 6, 2 per child; every child still receives 4 words (its fills:
    6 / 3 from the parent plus 2 over links) and reads 2 words for its neighbours."""
    w = einsum("Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]", {"c": 1, "m": 1, "r": 3, "p": 4})
    a = Architecture("row", (StorageLevel("L0"), StorageLevel("L1", 3, 1, 3)),
                     ComputeLevel("MAC", 3, 1, 3))
    m = Mapping((LevelMapping("L0", (Loop("p", 4),), (), (Loop("r", 3),), T3),
                 LevelMapping("L1", (), (), (), ("Inputs",))))
    for options in OPTIONS:
        eff = LinkEffectsBatch(w, a, options.keeps_stationary_translation).effects(
            encode(w, a, [m]), np.arange(1))
        assert per_row(w, eff, 1) == [{(1, "Inputs"): (6, 4, 2)}]
        assert_rows_match(w, a, [m], options)


@settings(max_examples=150, derandomize=True)
@given(problem=problems())
def test_random_problems(problem):
    w, a, m = problem
    batch = encode(w, a, [m])
    for options in OPTIONS:
        if assert_effects_match(w, a, batch, options):
            assert_rows_match(w, a, [decode(w, a, batch, 0)], options)


@st.composite
def several_mappings(draw):
    """One layer and design, 2 to 6 random mappings of it in one batch (different spatial
    factors and loop nests side by side)."""
    w = draw(layers(max_macs=2000))
    a = draw(architectures())
    return w, a, draw(st.lists(mappings(w, a), min_size=2, max_size=6))


@settings(max_examples=50, derandomize=True)
@given(problem=several_mappings())
def test_batches_of_random_mappings(problem):
    w, a, ms = problem
    batch = encode(w, a, ms)
    for options in OPTIONS:
        assert_effects_match(w, a, batch, options)


def assert_one_mapping_matches(problem):
    """The batched effects and the batched evaluation of one mapping equal the scalar
    ones under every option set."""
    w, a, m = problem
    batch = encode(w, a, [m])
    for options in OPTIONS:
        assert_effects_match(w, a, batch, options)
        assert_rows_match(w, a, [decode(w, a, batch, 0)], options)


@settings(max_examples=150, derandomize=True)
@given(problem=row_stationary())
def test_row_stationary_problems(problem):
    assert_one_mapping_matches(problem)


@settings(max_examples=60, derandomize=True)
@given(problem=bypassing_children())
def test_children_that_bypass_the_tensor(problem):
    assert_one_mapping_matches(problem)


@lru_cache(maxsize=None)
def sampled(arch: str, layer: str):
    w, a = load_layer_preset(layer), load_arch_preset(arch)
    # the Eyeriss-like design's own row-stationary constraints (on convolutions), where
    # links are common
    conv = set("CMPQRS") <= set(w.dims)
    c = resolve_constraints("eyeriss_like_constraints", w, a) \
        if arch == "eyeriss_like" and conv else None
    return w, a, Mapspace(w, a, c).sample_batch(120, seed=11)[1]


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("arch", ARCHS)
def test_every_preset_pair(arch, layer):
    """Random samples (seed 11) of every preset pair: effects on every row, and the batched
    model against the scalar evaluator on up to 3 rows that use links."""
    w, a, batch = sampled(arch, layer)
    for options in OPTIONS:
        assert_effects_match(w, a, batch, options)
        rows = [r for r in range(len(batch))
                if scalar(w, a, decode(w, a, batch, r), options)][:3]
        assert_rows_match(w, a, [decode(w, a, batch, r) for r in rows], options)


def test_presets_exercise_links():
    """The preset samples above do contain rows that use links (the test is not vacuous)."""
    w, a, batch = sampled("eyeriss_like", "resnet50_conv2_x_3x3")
    assert assert_effects_match(w, a, batch, OPTIONS[0]) >= 5
