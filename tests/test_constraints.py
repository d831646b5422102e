"""Constraints: loopscape's YAML format, Timeloop's constraints, and their validation.

Every bad input raises one SpecError that names the file (or "<memory>"), the key path
and a fix; every conflict names all the constraints in it by key path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from loopscape.spaces.constraints import Constraints, FactorRule, LevelConstraints
from loopscape.spaces.feasibility import capacity_floor_check, validate_constraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import (dump_constraints, load_arch, load_constraints,
                                 load_timeloop, save_constraints, timeloop_constraints,
                                 to_yaml)
from loopscape.spaces.workload import gemm

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "timeloop"
DOCS = Path(__file__).resolve().parent.parent / "docs"

# DRAM -> GlobalBuffer (may hold Inputs, Outputs) -> Column (dummy, X fanout 4 from the
# GlobalBuffer) -> RegFile (Y fanout 2 from Column; 64 words) -> 8 MACs.
ARCH = {"architecture": {"name": "small", "levels": [
    {"name": "DRAM", "energy_pj": {"read": 1, "fill": 1, "update": 1}},
    {"name": "GlobalBuffer", "capacity_words": 4096, "keeps": ["Inputs", "Outputs"],
     "energy_pj": {"read": 1, "fill": 1, "update": 1}},
    {"name": "Column", "dummy": True, "mesh": [4, 1]},
    {"name": "RegFile", "capacity_words": 64, "tensor_bits": {"Outputs": 16}, "mesh": [4, 2],
     "energy_pj": {"read": 1, "fill": 1, "update": 1}}],
    "compute": {"name": "MAC", "mesh": [4, 2], "energy_pj": 1}}}

EXAMPLE = """\
constraints:
  default_max_factor: 16
  default_min_factor: 1
  min_pe_utilization: 0.5
  levels:
    - target: DRAM
      temporal: {N: 1, C: "<=4", M: ">=2", P: all}
      inner: [N]
      outer: []
    - target: inter_PE_spatial
      spatial: {N: 1, P: 1, Q: 1, R: 1}
      spatial_x: []
      spatial_y: [C, M, S]
      keep: []
      bypass: [Weights, Inputs, Outputs]
"""


@pytest.fixture(scope="module")
def small():
    return gemm(M=16, N=32, K=32), load_arch(ARCH)


def _c(levels=(), **top) -> Constraints:
    return load_constraints({"constraints": {"levels": list(levels), **top}})


def _invalid(small, levels=(), **top) -> SpecError:
    w, a = small
    with pytest.raises(SpecError) as info:
        validate_constraints(_c(levels, **top), w, a)
    return info.value


def _says(err: SpecError, key: str, *words: str) -> None:
    text = str(err)
    assert err.key == key and key in text, text
    assert err.fix and "(fix: " in text, text
    for word in words:
        assert word in text, text


def _write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _file_error(tmp_path: Path, text: str) -> tuple[Path, SpecError]:
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_constraints(path)
    assert info.value.source == str(path), str(info.value)
    return path, info.value


# ----------------------------------------------------------------------------------
# Our YAML format
# ----------------------------------------------------------------------------------

def test_example_loads_with_every_rule_form(tmp_path):
    c = load_constraints(_write(tmp_path, EXAMPLE))
    assert c.default_max_factor == 16 and c.default_min_factor == 1
    assert c.min_pe_utilization == 0.5
    dram = c.level("DRAM")
    assert dram.temporal_rule("N") == FactorRule(exact=1)
    assert dram.temporal_rule("C") == FactorRule(max=4)
    assert dram.temporal_rule("M") == FactorRule(min=2)
    assert dram.temporal_rule("P") == FactorRule(whole=True)
    assert dram.inner == ("N",) and dram.outer == ()
    assert dram.spatial_x is None and dram.spatial_y is None  # omitted: any
    pe = c.level("inter_PE_spatial")
    assert pe.spatial_x == () and pe.spatial_y == ("C", "M", "S")
    assert pe.keep == () and pe.bypass == ("Weights", "Inputs", "Outputs")
    assert c.source == str(tmp_path / "c.yaml")


@pytest.mark.parametrize("text, rule", [
    ("4", FactorRule(exact=4)), ("all", FactorRule(whole=True)), ("any", FactorRule()),
    ("<=4", FactorRule(max=4)), (">=2", FactorRule(min=2)), ("=3", FactorRule(exact=3)),
    (">=2 <=8", FactorRule(min=2, max=8)), ("<= 8, >= 2", FactorRule(min=2, max=8)),
    ("all <=64", FactorRule(whole=True, max=64)),
])
def test_factor_rule_spellings(text, rule):
    c = _c([{"target": "DRAM", "temporal": {"K": text}}])
    assert c.level("DRAM").temporal_rule("K") == rule


def test_round_trip_dump_load_and_file(tmp_path):
    c = load_constraints(_write(tmp_path, EXAMPLE))
    assert load_constraints(dump_constraints(c)) == c
    out = tmp_path / "saved.yaml"
    save_constraints(c, out)
    assert out.read_text().startswith("# loopscape constraints")
    assert load_constraints(out) == c
    text = to_yaml(dump_constraints(c))
    assert "temporal: {N: 1, C: <=4, M: '>=2', P: all}" in text
    assert "spatial_x: []" in text  # an empty axis list is kept (it is not "any")


_names = st.lists(st.sampled_from(["K", "M", "N"]), unique=True, max_size=3).map(tuple)
_tensors = st.lists(st.sampled_from(["Weights", "Inputs", "Outputs"]), unique=True,
                    max_size=3).map(tuple)
_pos = st.integers(1, 64)
_rules = st.one_of(
    _pos.map(lambda v: FactorRule(exact=v)), st.just(FactorRule(whole=True)),
    st.just(FactorRule()), _pos.map(lambda v: FactorRule(min=v)),
    _pos.map(lambda v: FactorRule(max=v)), _pos.map(lambda v: FactorRule(whole=True, max=v)),
    st.tuples(_pos, _pos).map(lambda t: FactorRule(min=min(t), max=max(t))))
_rule_maps = st.dictionaries(st.sampled_from(["K", "M", "N"]), _rules, max_size=3).map(
    lambda d: tuple(d.items()))
_levels = st.builds(LevelConstraints, target=st.sampled_from(["DRAM", "GlobalBuffer", "RegFile"]),
                    temporal=_rule_maps, spatial=_rule_maps,
                    spatial_x=st.none() | _names, spatial_y=st.none() | _names,
                    outer=_names, inner=_names, keep=_tensors, bypass=_tensors)


@given(levels=st.lists(_levels, max_size=3, unique_by=lambda lc: lc.target),
       dmin=st.none() | _pos, dmax=st.none() | _pos,
       util=st.sampled_from([0.0, 0.25, 1.0, 1]))
def test_any_constraints_round_trip(levels, dmin, dmax, util):
    c = Constraints(tuple(levels), dmin, dmax, util)
    doc = dump_constraints(c)
    assert load_constraints(doc) == c
    assert load_constraints(yaml.safe_load(to_yaml(doc))) == c


def test_a_file_may_hold_constraints_next_to_the_other_sections(tmp_path):
    text = "layer: {name: mm, type: gemm, M: 16, N: 32, K: 32}\n" + EXAMPLE.replace(
        "inter_PE_spatial", "DRAM2")
    c = load_constraints(_write(tmp_path, text))
    assert c.level("DRAM2") is not None


@pytest.mark.parametrize("body, key, words", [
    ("  levels:\n    - target: DRAM\n      temporal: {N: 0}\n",
     "constraints.levels.DRAM.temporal.N", ["must be positive", "write all"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: -2}\n",
     "constraints.levels.DRAM.temporal.N", ["must be positive"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: 2.0}\n",
     "constraints.levels.DRAM.temporal.N", ["expected an integer", "without a decimal"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: yes}\n",
     "constraints.levels.DRAM.temporal.N", ["boolean"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: '<4'}\n",
     "constraints.levels.DRAM.temporal.N", ["cannot read factor rule", "<=k"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: '<=0'}\n",
     "constraints.levels.DRAM.temporal.N", ["must be positive"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: '<=4 <=8'}\n",
     "constraints.levels.DRAM.temporal.N", ["a maximum twice"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: '>=8 <=4'}\n",
     "constraints.levels.DRAM.temporal.N", ["minimum 8 is above the maximum 4"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: 'all 4'}\n",
     "constraints.levels.DRAM.temporal.N", ["combines all"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: 'any <=4'}\n",
     "constraints.levels.DRAM.temporal.N", ["'any' means no rule"]),
    ("  levels:\n    - target: DRAM\n      temporal: [N]\n",
     "constraints.levels.DRAM.temporal", ["expected a map of dimension to factor rule"]),
    ("  levels:\n    - target: DRAM\n      spatial_x: N\n",
     "constraints.levels.DRAM.spatial_x", ["expected a list of names", "[N]"]),
    ("  levels:\n    - target: DRAM\n      inner: [N, N]\n",
     "constraints.levels.DRAM.inner", ["listed twice"]),
    ("  levels:\n    - target: DRAM\n    - target: DRAM\n",
     "constraints.levels[1].target", ["two entries", "merge"]),
    ("  levels:\n    - temporal: {N: 1}\n",
     "constraints.levels[0]", ["missing required key 'target'"]),
    ("  levels:\n    - target: DRAM\n      keeps: [Weights]\n",
     "constraints.levels.DRAM.keeps", ["unknown key 'keeps'", "allowed keys here"]),
    ("  levels:\n    - target: DRAM\n      type: temporal\n      factors: N=1\n",
     "constraints.levels.DRAM.type", ["unknown key 'type'", "timeloop_constraints"]),
    ("  levels: {DRAM: {}}\n", "constraints.levels", ["got a map"]),
    ("  min_pe_utilization: 1.5\n", "constraints.min_pe_utilization", ["at most 1"]),
    ("  min_pe_utilization: '0.5'\n", "constraints.min_pe_utilization", ["without quotes"]),
    ("  default_max_factor: 0\n", "constraints.default_max_factor", ["must be positive"]),
    ("  default_max: 4\n", "constraints.default_max", ["unknown key", "default_max_factor"]),
    ("  levels:\n    - target: DRAM\n      temporal: {N: 1, N: 2}\n",
     "constraints.levels.DRAM.temporal.N", ["duplicate key 'N'"]),
    ("", "constraints", ["expected a map of constraints, got null"]),
])
def test_format_errors_name_file_and_key(tmp_path, body, key, words):
    path, err = _file_error(tmp_path, "constraints:\n" + body)
    assert path.name in str(err)
    _says(err, key, *words)


def test_missing_section_and_timeloop_keys(tmp_path):
    _, err = _file_error(tmp_path, "layer: {name: mm, type: gemm, M: 1, N: 1, K: 1}\n")
    _says(err, "constraints", "missing required top-level key 'constraints'")
    _, err = _file_error(tmp_path, "architecture_constraints: {targets: []}\n")
    _says(err, "architecture_constraints", "load_timeloop")


def test_loader_checks_names_with_partial_context(tmp_path, small):
    w, a = small
    path = _write(tmp_path, "constraints:\n  levels:\n    - target: Dram\n"
                            "      temporal: {Z: 1}\n")
    with pytest.raises(SpecError) as info:
        load_constraints(path, arch=a)
    _says(info.value, "constraints.levels.Dram.target", "has no level 'Dram'",
          "DRAM, GlobalBuffer, Column, RegFile")
    assert info.value.source == str(path)
    with pytest.raises(SpecError) as info:
        load_constraints(path, workload=w)
    _says(info.value, "constraints.levels.Dram.temporal.Z", "unknown dimension 'Z'")
    with pytest.raises(SpecError) as info:
        load_constraints(path, w, a)  # both: full validation
    assert info.value.key == "constraints.levels.Dram.target"


# ----------------------------------------------------------------------------------
# Validation: every error kind, with the constraints in conflict named
# ----------------------------------------------------------------------------------

def test_valid_constraints_pass(small):
    w, a = small
    c = _c([{"target": "DRAM", "temporal": {"K": 4}, "inner": ["K"]},
            {"target": "GlobalBuffer", "temporal": {"K": "<=8"}, "spatial": {"M": 4},
             "keep": ["Inputs"], "bypass": ["Outputs"]},
            {"target": "Column", "spatial_y": ["N"], "bypass": ["Weights"]},
            {"target": "RegFile", "keep": ["Weights"]}],
           default_max_factor=32, min_pe_utilization=1.0)
    validate_constraints(c, w, a)
    capacity_floor_check(w, a, c)


def test_unknown_level_dimension_and_tensor(small):
    _says(_invalid(small, [{"target": "Dram"}]), "constraints.levels.Dram.target",
          "architecture 'small' has no level 'Dram'")
    _says(_invalid(small, [{"target": "DRAM", "spatial": {"Z": 1}}]),
          "constraints.levels.DRAM.spatial.Z", "unknown dimension 'Z'", "['M', 'N', 'K']")
    _says(_invalid(small, [{"target": "DRAM", "outer": ["Z"]}]),
          "constraints.levels.DRAM.outer", "unknown dimension 'Z'")
    _says(_invalid(small, [{"target": "RegFile", "keep": ["W"]}]),
          "constraints.levels.RegFile.keep", "unknown tensor 'W'")


def test_duplicate_level_entries_built_in_python(small):
    w, a = small
    c = Constraints((LevelConstraints("DRAM"), LevelConstraints("DRAM")))
    with pytest.raises(SpecError, match="two entries for level 'DRAM'"):
        validate_constraints(c, w, a)


def test_kept_and_bypassed(small):
    _says(_invalid(small, [{"target": "RegFile", "keep": ["Weights"], "bypass": ["Weights"]}]),
          "constraints.levels.RegFile.keep",
          "constraints.levels.RegFile.keep and constraints.levels.RegFile.bypass both name "
          "Weights")


def test_keep_a_tensor_the_level_may_not_hold(small):
    _says(_invalid(small, [{"target": "GlobalBuffer", "keep": ["Weights"]}]),
          "constraints.levels.GlobalBuffer.keep", "may only keep ['Inputs', 'Outputs']",
          "architecture.levels.GlobalBuffer.keeps")


def test_keep_at_a_dummy_level(small):
    _says(_invalid(small, [{"target": "Column", "keep": ["Inputs"]}]),
          "constraints.levels.Column.keep", "dummy level that holds no data")


def test_bypass_at_the_outermost_level(small):
    _says(_invalid(small, [{"target": "DRAM", "bypass": ["Weights"]}]),
          "constraints.levels.DRAM.bypass", "outermost level DRAM keeps every tensor")


def test_inner_and_outer_overlap_or_repeat(small):
    _says(_invalid(small, [{"target": "DRAM", "inner": ["K", "M"], "outer": ["K"]}]),
          "constraints.levels.DRAM.inner",
          "constraints.levels.DRAM.inner and constraints.levels.DRAM.outer both name K")
    w, a = small
    c = Constraints((LevelConstraints("DRAM", inner=("K", "K")),))
    with pytest.raises(SpecError, match="listed twice"):
        validate_constraints(c, w, a)


def test_spatial_rule_without_fanout(small):
    _says(_invalid(small, [{"target": "RegFile", "spatial": {"K": 2}}]),
          "constraints.levels.RegFile.spatial.K", "constraints.levels.RegFile.spatial.K = 2",
          "no spatial fanout")
    w, a = small  # a unit spatial rule there is harmless
    validate_constraints(_c([{"target": "RegFile", "spatial": {"K": 1}}]), w, a)


def test_spatial_factor_wider_than_its_axes(small):
    _says(_invalid(small, [{"target": "GlobalBuffer", "spatial": {"K": 8}}]),
          "constraints.levels.GlobalBuffer.spatial.K", "spatial.K = 8",
          "may only go on X (fanout 4)")
    _says(_invalid(small, [{"target": "Column", "spatial": {"K": 2}, "spatial_y": ["M"]}]),
          "constraints.levels.Column.spatial.K", "may go on neither mesh axis",
          "constraints.levels.Column.spatial_y = [M]")
    _says(_invalid(small, [{"target": "Column", "spatial": {"K": "all"}}]),
          "constraints.levels.Column.spatial.K", "spatial.K = all", "Y (fanout 2)")


def test_dimensions_forced_onto_one_axis_must_fit_it(small):
    err = _invalid(small, [{"target": "Column", "spatial": {"K": 2, "N": 2},
                            "spatial_y": ["K", "N"]}])
    _says(err, "constraints.levels.Column.spatial.K",
          "constraints.levels.Column.spatial.K = 2 and constraints.levels.Column.spatial.N = 2",
          "multiply to 4", "Y fanout of Column is 2")


def test_exact_factors_over_levels_must_divide_the_bound(small):
    err = _invalid(small, [{"target": "DRAM", "temporal": {"K": 4}},
                           {"target": "GlobalBuffer", "temporal": {"K": 16}}])
    _says(err, "constraints.levels.DRAM.temporal.K",
          "constraints.levels.DRAM.temporal.K = 4 and constraints.levels.GlobalBuffer.temporal.K "
          "= 16 multiply to 64 but the layer's K is 32")
    err = _invalid(small, [{"target": "DRAM", "temporal": {"M": 8}},
                           {"target": "RegFile", "temporal": {"M": 4}}])
    _says(err, "constraints.levels.DRAM.temporal.M", "multiply to 32 but the layer's M is 16")


def test_fixed_factors_that_leave_nothing_free(small):
    levels = [{"target": "DRAM", "temporal": {"K": 2}},
              {"target": "GlobalBuffer", "temporal": {"K": 2}, "spatial": {"K": 1}},
              {"target": "Column", "temporal": {"K": 2}, "spatial": {"K": 1}},
              {"target": "RegFile", "temporal": {"K": 2}}]
    err = _invalid(small, levels)
    _says(err, "constraints.levels.DRAM.temporal.K", "no split of the layer's K = 32",
          "constraints.levels.RegFile.temporal.K = 2", "leave no loop of K free",
          "multiply to 16")


def test_one_rule_against_the_bound(small):
    _says(_invalid(small, [{"target": "DRAM", "temporal": {"K": 5}}]),
          "constraints.levels.DRAM.temporal.K", "= 5 does not divide the layer's K = 32",
          "1, 2, 4, 8, 16, 32")
    _says(_invalid(small, [{"target": "DRAM", "temporal": {"K": 64}}]),
          "constraints.levels.DRAM.temporal.K", "= 64 exceeds the layer's K = 32")
    _says(_invalid(small, [{"target": "DRAM", "temporal": {"K": ">=33"}}]),
          "constraints.levels.DRAM.temporal.K", "asks for at least 33")
    _says(_invalid(small, [{"target": "DRAM", "temporal": {"K": ">=5 <=7"}}]),
          "constraints.levels.DRAM.temporal.K", "'>=5 <=7'", "no divisor")


def test_min_above_max_built_in_python(small):
    w, a = small
    c = Constraints((LevelConstraints("DRAM", temporal=(("K", FactorRule(min=8, max=4)),)),))
    with pytest.raises(SpecError) as info:
        validate_constraints(c, w, a)
    _says(info.value, "constraints.levels.DRAM.temporal.K", "minimum 8 is above the maximum 4")
    c = Constraints((LevelConstraints("DRAM", temporal=(("K", FactorRule(exact=8, max=4)),)),))
    with pytest.raises(SpecError, match="above the maximum 4"):
        validate_constraints(c, w, a)


def test_ranges_over_levels_that_cannot_reach_the_bound(small):
    err = _invalid(small, default_max_factor=1)
    _says(err, "constraints.default_max_factor", "no split of the layer's M = 16",
          "constraints.default_max_factor = 1", "the fanout of GlobalBuffer (4x1)",
          "the largest product they allow is 8")
    err = _invalid(small, [{"target": "GlobalBuffer", "temporal": {"K": ">=4"},
                            "spatial": {"K": ">=4"}},
                           {"target": "Column", "temporal": {"K": ">=4"}}])
    _says(err, "constraints.levels.GlobalBuffer.temporal.K",
          "constraints.levels.GlobalBuffer.spatial.K = '>=4'",
          "constraints.levels.Column.temporal.K = '>=4'", "smallest product they allow is 64")


def test_default_min_above_default_max(small):
    _says(_invalid(small, default_min_factor=8, default_max_factor=4),
          "constraints.default_min_factor",
          "constraints.default_min_factor = 8 and constraints.default_max_factor = 4")


def test_min_pe_utilization_range_and_reach(small):
    w, a = small
    c = Constraints(min_pe_utilization=1.5)
    with pytest.raises(SpecError) as info:
        validate_constraints(c, w, a)
    _says(info.value, "constraints.min_pe_utilization", "between 0 and 1")
    validate_constraints(_c(min_pe_utilization=1.0), w, a)  # 4 x 2 PEs are reachable
    err = _invalid(small, [{"target": "Column", "spatial_y": []}], min_pe_utilization=0.6)
    _says(err, "constraints.min_pe_utilization", "needs 5 of the 8 MAC units",
          "at most 4 (0.5)", "constraints.levels.Column.spatial_y = []")
    err = _invalid(small, [{"target": "GlobalBuffer", "spatial": {"K": 1, "M": 1, "N": 1}}],
                   min_pe_utilization=0.5)
    _says(err, "constraints.min_pe_utilization", "at most 2 (0.25)",
          "constraints.levels.GlobalBuffer.spatial.K = 1")


def test_min_pe_utilization_limited_by_the_layer():
    w = gemm(M=1, N=1, K=2)
    a = load_arch(ARCH)
    with pytest.raises(SpecError) as info:
        validate_constraints(Constraints(min_pe_utilization=0.5), w, a)
    _says(info.value, "constraints.min_pe_utilization", "at most 2 (0.25)", "bounds")


# ----------------------------------------------------------------------------------
# Capacity floor
# ----------------------------------------------------------------------------------

def test_capacity_floor_names_level_and_shortfall(small):
    w, a = small
    c = _c([{"target": "RegFile", "keep": ["Weights", "Inputs", "Outputs"],
             "temporal": {"K": 32}}])
    validate_constraints(c, w, a)
    with pytest.raises(SpecError) as info:
        capacity_floor_check(w, a, c)
    # Smallest tiles: K=32 is forced into the RegFile, everything else goes outside.
    # Weights 32 x 8 b + Inputs 32 x 8 b + Outputs 1 x 16 b = 528 bits > 64 x 8 = 512.
    _says(info.value, "constraints.levels.RegFile.keep",
          "layer fits no mapping: RegFile needs at least 528 bits for Weights, Inputs, Outputs",
          "holds 512", "16 bits short")


def test_capacity_floor_passes_when_factors_can_move_out(small):
    w, a = small
    capacity_floor_check(w, a, _c([{"target": "RegFile", "keep": ["Weights", "Inputs",
                                                                   "Outputs"]}]))
    capacity_floor_check(w, a, _c([{"target": "RegFile", "keep": ["Weights", "Inputs",
                                                                   "Outputs"],
                                    "temporal": {"K": 16}}]))


def test_capacity_floor_counts_forced_spatial_factors(small):
    w, a = small
    ones = {"M": 1, "N": 1}
    c = _c([{"target": "DRAM", "temporal": ones},
            {"target": "GlobalBuffer", "temporal": ones, "spatial": {"M": 4, "N": 1}},
            {"target": "Column", "temporal": ones, "spatial": ones},
            {"target": "RegFile", "keep": ["Outputs"]}])
    validate_constraints(c, w, a)
    with pytest.raises(SpecError) as info:
        capacity_floor_check(w, a, c)
    # M 16 / 4 (spatial at the GlobalBuffer) = 4 and all of N = 32 stay in each RegFile:
    # Outputs 4 x 32 = 128 words x 16 b = 2048 bits, 1536 more than 64 x 8.
    _says(info.value, "constraints.levels.RegFile.keep", "needs at least 2048 bits",
          "Outputs 128 words x 16 b", "1536 bits short")


# ----------------------------------------------------------------------------------
# Timeloop's constraints
# ----------------------------------------------------------------------------------

def _case(name: str):
    path = FIXTURES / name / "parsed-processed-input.yaml"
    spec = load_timeloop([path])
    c = timeloop_constraints(spec, spec.workload, spec.arch, source=str(path))
    return spec, c


def _ones(*dims: str) -> tuple[tuple[str, FactorRule], ...]:
    return tuple((d, FactorRule(exact=1)) for d in dims)


def test_eyeriss_architecture_constraints():
    spec, c = _case("design_eyeriss_like")
    w, a = spec.workload, spec.arch
    assert w.dims == ("C", "M", "R", "S", "N", "P", "Q")
    assert [lc.target for lc in c.levels] == list(a.level_names)
    # permutation "N": N innermost at DRAM and at the global buffer.
    assert c.level("DRAM") == LevelConstraints("DRAM", inner=("N",))
    glb = c.level("shared_glb")
    assert glb.inner == ("N",) and glb.keep == ("Inputs", "Outputs")
    assert glb.bypass == ("Weights",) and glb.temporal == ()
    col = c.level("inter_PE_column_spatial")
    assert col.spatial == _ones("C", "R", "S", "N", "P")  # N=1,C=1,P=1,R=1,S=1
    assert col.spatial_x == w.dims and col.spatial_y == ()  # split 999: all on X
    assert col.temporal == _ones(*w.dims) and col.inner == ()
    assert col.bypass == ("Weights", "Inputs", "Outputs") and col.keep == ()
    pe = c.level("inter_PE_spatial")
    assert pe.spatial == _ones("R", "N", "P", "Q")
    assert pe.spatial_x == () and pe.spatial_y == w.dims  # split 0: all on Y
    assert pe.temporal == _ones(*w.dims)
    assert pe.bypass == ("Weights", "Inputs", "Outputs")
    ifmap = c.level("ifmap_spad")
    assert ifmap.keep == ("Inputs",) and ifmap.bypass == ("Weights", "Outputs")
    assert ifmap.temporal == _ones(*w.dims)
    weights = c.level("weights_spad")
    assert weights.keep == ("Weights",) and weights.bypass == ("Inputs", "Outputs")
    assert weights.temporal == _ones("M", "S", "N", "P", "Q")
    assert weights.inner == ("R", "C")  # "NMPQSCR": C innermost, then R (units dropped)
    psum = c.level("psum_spad")
    assert psum.keep == ("Outputs",) and psum.bypass == ("Weights", "Inputs")
    assert psum.temporal == _ones("C", "R", "S", "N", "P", "Q") and psum.inner == ("M",)
    assert c.min_pe_utilization == 0 and c.default_max_factor is None
    validate_constraints(c, w, a)
    capacity_floor_check(w, a, c)
    assert load_constraints(dump_constraints(c)) == c


def test_timeloop_best_mapping_obeys_the_imported_constraints():
    """The mapper's best mapping respects every imported factor, axis and keep rule."""
    spec, c = _case("design_eyeriss_like")
    m = load_timeloop([FIXTURES / "design_eyeriss_like" / "parsed-processed-input.yaml",
                       FIXTURES / "design_eyeriss_like" / "timeloop-mapper.map.yaml"]).mapping
    w = spec.workload
    for lm in m.levels:
        lc = c.level(lm.target)
        for d, rule in lc.temporal:
            assert rule.allows(lm.factor(d, "temporal"), w.bound(d)), (lm.target, d)
        for d, rule in lc.spatial:
            assert rule.allows(lm.factor(d, "spatial"), w.bound(d)), (lm.target, d)
        if lc.spatial_x is not None:
            assert {l.dim for l in lm.spatial_x} <= set(lc.spatial_x)
        if lc.spatial_y is not None:
            assert {l.dim for l in lm.spatial_y} <= set(lc.spatial_y)
        assert set(lc.keep) <= set(lm.keep) and not set(lc.bypass) & set(lm.keep)


@pytest.mark.parametrize("case, keeps", [
    ("ex05_mapper_conv1d_oc_3level_baked", ("Weights", "Inputs", "Outputs")),
    ("ex05_mapper_conv1d_oc_3level_freebypass", ()),
])
def test_ex05_constraints(case, keeps):
    spec, c = _case(case)
    w, a = spec.workload, spec.arch
    assert w.dims == ("K", "R", "P")
    mm = c.level("MainMemory")
    assert mm.temporal == _ones("K", "R", "P") and mm.inner == ()  # all units: no order
    gb = c.level("GlobalBuffer")
    assert gb.temporal == (("K", FactorRule(exact=16)), ("R", FactorRule(exact=1)),
                           ("P", FactorRule(exact=16)))
    assert gb.inner == ("K", "P")  # "PRK": P innermost, R (unit) dropped, K outside it
    assert gb.keep == keeps and gb.bypass == ()
    rf = c.level("RegisterFile")
    assert rf.temporal == (("K", FactorRule(exact=2)), ("R", FactorRule(exact=3)),
                           ("P", FactorRule(exact=1)))
    assert rf.inner == ("K", "R") and rf.keep == keeps
    validate_constraints(c, w, a)
    capacity_floor_check(w, a, c)


def test_ex05_null_has_no_constraints():
    spec, c = _case("ex05_mapper_conv1d_oc_3level_null")
    assert c == Constraints()
    assert c.source.endswith("parsed-processed-input.yaml")


# Small Timeloop documents on the Eyeriss-like design's levels and problem.

@pytest.fixture(scope="module")
def eyeriss():
    spec = load_timeloop([FIXTURES / "design_eyeriss_like" / "parsed-processed-input.yaml"])
    return spec.workload, spec.arch


def _tl(eyeriss, doc) -> Constraints:
    w, a = eyeriss
    return timeloop_constraints(doc, w, a, source="case.yaml")


def _tl_error(eyeriss, doc, key: str, *words: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        _tl(eyeriss, doc)
    err = info.value
    assert err.source == "case.yaml" and err.key == key, str(err)
    assert "case.yaml" in str(err) and key in str(err)
    for word in words:
        assert word in str(err), str(err)
    return err


def test_factor_forms_and_prefix_suffix_permutation(eyeriss):
    c = _tl(eyeriss, {"targets": [{"target": "DRAM", "type": "temporal",
                                   "factors": "C1 M<=8 P>=2 Q=0 R=3", "permutation": "RS_PQ"}]})
    dram = c.level("DRAM")
    assert dict(dram.temporal) == {"C": FactorRule(exact=1), "M": FactorRule(max=8),
                                   "P": FactorRule(min=2), "Q": FactorRule(whole=True),
                                   "R": FactorRule(exact=3)}
    # Innermost first: R innermost, then S; after "_": P, then Q outermost.
    assert dram.inner == ("S", "R") and dram.outer == ("Q", "P")


def test_default_max_and_min_factor_become_rules_at_that_level(eyeriss):
    c = _tl(eyeriss, {"targets": [{"target": "shared_glb", "type": "temporal",
                                   "factors": "C=1 M<=2", "default_max_factor": 4,
                                   "default_min_factor": 1}]})
    glb = dict(c.level("shared_glb").temporal)
    assert glb["C"] == FactorRule(exact=1, min=1, max=4)  # Timeloop applies both to C too
    assert glb["M"] == FactorRule(min=1, max=2)
    assert glb["Q"] == FactorRule(min=1, max=4)
    assert c.default_max_factor is None


@pytest.mark.parametrize("level, entry, xs, ys", [
    # 1-D Y-fanout level; a full permutation: positions below split go on X.
    ("inter_PE_spatial", {"split": 0, "permutation": "NPQRSCM"}, "", "CMRSNPQ"),
    ("inter_PE_spatial", {"split": 7, "permutation": "NPQRSCM"}, "CMRSNPQ", ""),
    ("inter_PE_spatial", {"split": 2, "permutation": "NPQRSCM"}, "NP", "CMRSQ"),
    # no permutation on a 1-D level: Timeloop's canonical (problem) order.
    ("inter_PE_spatial", {"split": 3}, "CMR", "SNPQ"),
    # partial permutation: unspecified dimensions straddling the split may go either way.
    ("inter_PE_spatial", {"split": 2, "permutation": "C"}, "CMRSNPQ", "MRSNPQ"),
    ("inter_PE_spatial", {"split": 1, "permutation": "C_M"}, "C", "MRSNPQ"),
    ("inter_PE_spatial", {"split": 6, "permutation": "C_M"}, "CRSNPQ", "M"),
])
def test_spatial_split_to_axes(eyeriss, level, entry, xs, ys):
    c = _tl(eyeriss, {"targets": [{"target": level, "type": "spatial", **entry}]})
    lc = c.level(level)
    assert lc.spatial_x == tuple(xs) and lc.spatial_y == tuple(ys)


def test_spatial_without_split_leaves_axes_free(eyeriss):
    c = _tl(eyeriss, {"targets": [{"target": "inter_PE_spatial", "type": "spatial",
                                   "factors": "N=1", "permutation": "NCM"}]})
    lc = c.level("inter_PE_spatial")
    assert lc.spatial_x is None and lc.spatial_y is None
    assert lc.spatial == _ones("N") and lc.inner == ()  # a spatial order pins no loops


def test_alternative_spellings(eyeriss):
    nested = _tl(eyeriss, {"targets": [{"target": "inter_PE_spatial", "constraints": [
        {"type": "spatial", "attributes": {"factors": "N=1", "split": 0}},
        {"type": "bypass", "bypass": ["Inputs"]}]}]})
    lc = nested.level("inter_PE_spatial")
    assert lc.spatial == _ones("N") and lc.spatial_y == eyeriss[0].dims
    assert lc.bypass == ("Inputs",)
    by_id = _tl(eyeriss, [{"target": 0, "type": "datatype", "keep": ["Outputs"]},
                          {"name": "psum_spad", "type": "parallelism", "min": 0.25}])
    assert by_id.level("psum_spad").keep == ("Outputs",)  # id 0 is the innermost level
    assert by_id.min_pe_utilization == 0.25
    empty = _tl(eyeriss, {"targets": [{"target": "DRAM", "type": "temporal",
                                       "no_reuse": []}]})
    assert empty == Constraints()


def test_timeloop_document_form_names_the_keys(eyeriss):
    doc = {"architecture_constraints": {"targets": [
        {"target": "DRAM", "type": "temporal", "factors": "C=1"}]},
        "mapspace_constraints": {"targets": [
            {"target": "DRAM", "type": "temporal", "factors": "C=3"}]}}
    _tl_error(eyeriss, doc, "mapspace_constraints.targets[0].factors",
              "a second temporal exact factor for C at DRAM",
              "architecture_constraints.targets[0]", "Timeloop rejects this too")


@pytest.mark.parametrize("entry, key, words", [
    ({"target": "DRAM", "type": "skew"}, "targets[0].type", ["unknown constraint type"]),
    ({"target": "DRAM"}, "targets[0]", ["no type"]),
    ({"target": "DRAM", "type": "max_overbooked_proportion", "proportion": 0.1},
     "targets[0].type", ["overbooking"]),
    ({"target": "DRAM", "type": "spatial", "factors": "C=1"}, "targets[0].type",
     ["no spatial fanout", "Timeloop rejects it too"]),
    ({"target": "DRAM", "type": "temporal", "factors": "C=4"}, "targets[0].factors",
     ["'C=4' exceeds the problem's C = 3", "ignores"]),
    ({"target": "DRAM", "type": "temporal", "factors": "X=4"}, "targets[0].factors",
     ["unknown dimension 'X'"]),
    ({"target": "DRAM", "type": "temporal", "factors": "C=1 junk"}, "targets[0].factors",
     ["cannot read factors", "junk"]),
    ({"target": "DRAM", "type": "temporal", "factors": "C1 C2"}, "targets[0].factors",
     ["two exact factors"]),
    ({"target": "DRAM", "type": "temporal", "factors": "C<=0"}, "targets[0].factors",
     ["must be positive"]),
    ({"target": "DRAM", "type": "temporal", "permutation": "CC"}, "targets[0].permutation",
     ["appears twice"]),
    ({"target": "DRAM", "type": "temporal", "permutation": "CZ"}, "targets[0].permutation",
     ["unknown dimension 'Z'"]),
    ({"target": "DRAM", "type": "utilization", "min": 0.5}, "targets[0].target",
     ["innermost storage level (psum_spad)"]),
    ({"target": "psum_spad", "type": "utilization", "min": 1.5}, "targets[0].min",
     ["between 0 and 1"]),
    ({"target": "DRAM", "type": "temporal", "no_reuse": ["Inputs"]}, "targets[0].no_reuse",
     ["not supported"]),
    ({"target": "DRAM", "type": "temporal", "remainders": 2}, "targets[0].remainders",
     ["imperfect factorization"]),
    ({"target": "DRAM", "type": "temporal", "split": 1}, "targets[0].split",
     ["unknown key 'split' in a temporal constraint"]),
    ({"target": "Nope", "type": "bypass", "keep": ["Inputs"]}, "targets[0].target",
     ["unknown target 'Nope'"]),
    ({"target": 9, "type": "bypass", "keep": ["Inputs"]}, "targets[0].target",
     ["out of range 0..6"]),
    ({"type": "bypass", "keep": ["Inputs"]}, "targets[0]", ["no target"]),
    ({"target": "DRAM", "type": "bypass", "keep": ["Psums"]}, "targets[0].keep",
     ["unknown data space 'Psums'"]),
    ({"target": "DRAM", "type": "temporal", "factors": "C=1",
      "attributes": {"factors": "M=1"}}, "targets[0].attributes.factors",
     ["both in the entry and in its attributes"]),
])
def test_timeloop_errors(eyeriss, entry, key, words):
    _tl_error(eyeriss, {"targets": [entry]}, key, *words)


def test_timeloop_respecification_errors(eyeriss):
    _tl_error(eyeriss, {"targets": [
        {"target": "ifmap_spad", "type": "bypass", "keep": ["Inputs"]},
        {"target": "ifmap_spad", "type": "dataspace", "bypass": ["Inputs"]}]},
        "targets[1].bypass", "Inputs is given a keep/bypass setting at ifmap_spad twice")
    _tl_error(eyeriss, {"targets": [
        {"target": "DRAM", "type": "temporal", "factors": "C<=2", "default_max_factor": 4},
        {"target": "DRAM", "type": "temporal", "factors": "M<=2"}]},
        "targets[1].factors", "a second temporal maximum for M",
        "'default_max_factor: 4' in targets[0]")
    _tl_error(eyeriss, {"targets": [
        {"target": "DRAM", "type": "temporal", "permutation": "N"},
        {"target": "DRAM", "type": "temporal", "permutation": "C"}]},
        "targets[1].permutation", "a second temporal permutation for DRAM")
    _tl_error(eyeriss, {"targets": [
        {"target": "inter_PE_spatial", "type": "spatial", "split": 0},
        {"target": "inter_PE_spatial", "type": "spatial", "split": 1}]},
        "targets[1].split", "a second split")
    _tl_error(eyeriss, {"targets": [
        {"target": "psum_spad", "type": "utilization", "min": 0.1},
        {"target": "psum_spad", "type": "utilization", "min": 0.2}]},
        "targets[1]", "a second utilization constraint")


def test_imported_constraints_are_validated_with_loopscape_key_paths(eyeriss):
    w, a = eyeriss
    c = _tl(eyeriss, {"targets": [{"target": "DRAM", "type": "temporal", "factors": "M=16"},
                                  {"target": "shared_glb", "type": "temporal",
                                   "factors": "M=4"}]})
    with pytest.raises(SpecError) as info:
        validate_constraints(c, w, a)
    _says(info.value, "constraints.levels.DRAM.temporal.M",
          "constraints.levels.DRAM.temporal.M = 16 and constraints.levels.shared_glb.temporal.M"
          " = 4 multiply to 64 but the layer's M is 32")
    assert info.value.source == "case.yaml"


# ----------------------------------------------------------------------------------
# Docs
# ----------------------------------------------------------------------------------

def _section(page: str, title: str) -> str:
    text = (DOCS / page).read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_formats_doc_constraints_example_runs(tmp_path, monkeypatch):
    section = _section("formats.md", "Constraints")
    yaml_blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert yaml_blocks
    for block in yaml_blocks:
        load_constraints(yaml.safe_load(block))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "constraints.yaml").write_text(yaml_blocks[0])
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        exec(compile(block, "formats.md", "exec"), {})


def test_timeloop_doc_constraints_section_runs(monkeypatch):
    section = _section("timeloop.md", "Constraints")
    for word in ("innermost first", "split", "default_max_factor", "constraints.cpp",
                 "uber.cpp"):
        assert word in section
    monkeypatch.chdir(DOCS.parent)
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "timeloop.md", "exec"), {})
