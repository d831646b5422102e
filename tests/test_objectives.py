"""Objective names parse with clear errors; batched and scalar values agree."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopscape.costmodels import evaluate
from loopscape.costmodels.batched import evaluate_batch
from loopscape.mapper.objectives import (MAXIMIZED, OBJECTIVES, describe, make_archive,
                                         maximized, objective_values,
                                         objective_values_scalar, parse_objectives)
from loopscape.spaces.encoding import encode
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset

from strategies import mappings, problems

EXACT = {"cycles", "dram_words", "outermost_words"}  # integers: must match exactly


def all_names(arch):
    return (tuple(OBJECTIVES) + tuple(f"accesses:{n}" for n in arch.level_names)
            + tuple(f"energy:{n}" for n in arch.level_names))


def assert_agree(w, a, ms):
    names = all_names(a)
    got = objective_values(names, evaluate_batch(w, a, encode(w, a, ms)), a)
    assert got.shape == (len(ms), len(names)) and got.dtype == np.float64
    for i, m in enumerate(ms):
        s = evaluate(w, a, m)
        want = objective_values_scalar(names, s)
        for j, name in enumerate(names):
            if name in EXACT or name.startswith("accesses:"):
                assert got[i, j] == want[j], name
            else:
                assert got[i, j] == pytest.approx(want[j], rel=1e-9, abs=1e-9), name
        by = dict(zip(names, want))
        assert by["outermost_words"] == by["dram_words"] == s.outermost_words
        assert by[f"accesses:{a.level_names[0]}"] == s.outermost_words
        assert by["edp"] == s.edp and by["utilization"] == s.utilization
        total = sum(by[f"energy:{n}"] for n in a.level_names) + s.compute_energy_pj
        assert total == pytest.approx(s.energy_pj, rel=1e-12)


@pytest.mark.parametrize("arch,layer", [("eyeriss_like", "mobilenet_v2_features3_dw"),
                                        ("simple_weight_stationary", "conv1d_ex04"),
                                        ("simba_like", "conv1d_ex04")])
def test_batched_and_scalar_agree_on_preset_samples(arch, layer):
    a, w = load_arch_preset(arch), load_layer_preset(layer)
    ms = [m for _, m in Mapspace(w, a).sample(25, seed=0)]
    assert_agree(w, a, ms)


@settings(max_examples=40)
@given(problems(max_macs=800), st.data())
def test_batched_and_scalar_agree_on_random_mappings(problem, data):
    w, a, m = problem
    ms = [m] + [data.draw(mappings(w, a)) for _ in range(3)]
    assert_agree(w, a, ms)


def test_parse_names_aliases_and_levels():
    a = load_arch_preset("eyeriss_like")
    assert parse_objectives("energy,cycles") == ("energy_pj", "cycles")
    assert parse_objectives(" energy_pj , latency ,EDP") == ("energy_pj", "cycles", "edp")
    assert parse_objectives(["utilization", "dram_words"]) == ("utilization", "dram_words")
    assert parse_objectives("accesses:dram,energy:Shared_GLB", a) == (
        "accesses:DRAM", "energy:shared_glb")
    assert parse_objectives("accesses:anything") == ("accesses:anything",)  # no arch
    assert maximized(parse_objectives("energy,utilization")) == ("utilization",)
    assert MAXIMIZED == {"utilization"}
    assert "DRAM" in describe("accesses:DRAM") and describe("edp")


@pytest.mark.parametrize("spec,message", [
    ("energy,foo", "unknown objective 'foo'"),
    ("bogus:DRAM", "unknown objective 'bogus:DRAM'"),
    ("accesses:L9", "unknown level 'L9'"),
    ("energy:", "needs a level name"),
    ("", "no objective"),
    ("energy,,cycles", "empty objective"),
    ("energy,energy_pj", "listed twice"),
])
def test_parse_errors_name_the_problem_and_the_choices(spec, message):
    a = load_arch_preset("eyeriss_like")
    with pytest.raises(SpecError, match=message) as e:
        parse_objectives(spec, a)
    text = str(e.value)
    if message in ("empty objective", "listed twice"):
        return  # nothing to choose from: the fix says how to write the list
    assert "DRAM" in text and "psum_spad" in text  # the valid levels are listed
    if "level '" not in message:
        assert "energy_pj" in text and "utilization" in text and "accesses:<LEVEL>" in text


def test_unknown_level_is_caught_when_computing():
    a, w = load_arch_preset("eyeriss_like"), load_layer_preset("mobilenet_v2_features3_dw")
    ms = [m for _, m in Mapspace(w, a).sample(2, seed=1)]
    r = evaluate_batch(w, a, encode(w, a, ms))
    with pytest.raises(SpecError, match="unknown level"):
        objective_values(["accesses:nowhere"], r, a)
    with pytest.raises(SpecError, match="unknown level"):
        objective_values_scalar(["energy:nowhere"], evaluate(w, a, ms[0]))


def test_archive_from_objective_values_keeps_the_scalar_front():
    a, w = load_arch_preset("simple_weight_stationary"), load_layer_preset("conv1d_ex04")
    drawn = Mapspace(w, a).sample(60, seed=3)
    ms = [m for _, m in drawn]
    names = parse_objectives("energy,cycles,utilization", a)
    batched = make_archive(names)
    batched.add_batch(objective_values(names, evaluate_batch(w, a, encode(w, a, ms)), a),
                      [mid for mid, _ in drawn])
    scalar = make_archive(names)
    for mid, m in drawn:
        scalar.add(objective_values_scalar(names, evaluate(w, a, m)), mid)
    assert batched.maximize == ("utilization",)
    assert [p.item for p in batched.front] == [p.item for p in scalar.front]
    np.testing.assert_allclose(batched.values_array(), scalar.values_array(), rtol=1e-9)
