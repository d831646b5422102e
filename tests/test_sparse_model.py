"""Sparse model: the README's worked example derived by hand, errors for combinations
Sparseloop refuses, the strict sparsity YAML and the CLI options."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.costmodels import ModelOptions
from loopscape.costmodels.sparse_batched import SparseBatchEvaluator
from loopscape.costmodels.sparse_eval import evaluate_sparse
from loopscape.spaces import Architecture, ComputeLevel, LevelMapping, Loop, Mapping, StorageLevel
from loopscape.spaces.encoding import encode
from loopscape.spaces.errors import MappingError, SpecError
from loopscape.spaces.io.timeloop import load_timeloop
from loopscape.spaces.io.yaml_sparsity import sparsity_from_data
from loopscape.spaces.sparsity import (Density, SparsitySpec, TensorFormat,
                                       parse_density_overrides, validate_sparsity)
from loopscape.spaces.workload import einsum

FIX = Path(__file__).resolve().parent / "fixtures" / "sparseloop"


def _load(case: str):
    d = FIX / case
    return load_timeloop([d / "input.yaml", d / "ERT.yaml", d / "map.yaml"])


def test_worked_example_scdu_by_hand():
    """Z = sum_k A[k] B[k], K = 16, A 25 % dense in CP at the Buffer, B and Z skipped on A.
    ERT: read 0.582895, update 0.510895, metadata_read 0.191076, leak 0.002083, MAC 0.315."""
    s = _load("ex_01.2.3-SCDU-dot-product")
    r = evaluate_sparse(s.workload, s.arch, s.mapping, s.sparsity).to_dict()
    buf = r["levels"]["Buffer"]
    # A: 16 x 0.25 = 4 non-zeros stored (capacity 4), one CP coordinate each; the 12 zeros
    # are not stored, so they are neither read nor skipped.
    a = buf["A"]
    assert (a["occupancy_words"], a["algorithmic_reads"], a["actual_reads"],
            a["skipped_reads"], a["metadata_reads"]) == (4, 16, 4, 0, 4)
    assert a["energy_pj"] == pytest.approx(4 * 0.582895 + 4 * 0.191076)
    # B: read only where A is non-zero (probability 0.25): 4 actual, 12 skipped for free.
    b = buf["B"]
    assert (b["actual_reads"], b["skipped_reads"]) == (4, 12)
    assert b["energy_pj"] == pytest.approx(4 * 0.582895)
    # Z: 15 reads (the first is elided) and 16 updates; 12 of each skipped.
    z = buf["Z"]
    assert (z["algorithmic_reads"], z["actual_reads"], z["skipped_reads"]) == (15, 3, 12)
    assert (z["actual_updates"], z["skipped_updates"]) == (4, 12)
    assert z["energy_pj"] == pytest.approx(3 * 0.582895 + 4 * 0.510895)
    # 4 MACs, 4 cycles (skipped accesses take no time), leakage 4 x 0.002083.
    assert (r["algorithmic_computes"], r["actual_computes"], r["cycles"]) == (16, 4, 4)
    assert r["compute_energy_pj"] == pytest.approx(4 * 0.315)
    total = (4 * 0.582895 + 4 * 0.191076 + 4 * 0.582895 + 3 * 0.582895 + 4 * 0.510895
             + 4 * 0.315 + 4 * 0.002083)
    assert r["energy_pj"] == pytest.approx(total)  # 10.488061 pJ


def test_gating_costs_time_but_not_energy():
    """Same dot product with gating (another Buffer: read 1.958, write bandwidth 1): the 12
    gated B reads and 12 + 12 Z reads/updates cost nothing but still use bandwidth, so 16
    updates through a 1-word/cycle port take 16 cycles although only 4 MACs run."""
    s = _load("ex_01.2.2-SUDU-dot-product")
    r = evaluate_sparse(s.workload, s.arch, s.mapping, s.sparsity).to_dict()
    z = r["levels"]["Buffer"]["Z"]
    assert (z["actual_updates"], z["gated_updates"], z["gated_reads"]) == (4, 12, 12)
    assert r["actual_computes"] == 4 and r["compute_cycles"] == 4
    assert r["cycles"] == 16
    skipped = _load("ex_01.2.3-SCDU-dot-product")
    assert evaluate_sparse(skipped.workload, skipped.arch, skipped.mapping,
                           skipped.sparsity).cycles == 4


def test_compressed_tile_needs_enough_ranks():
    """Tiling B once more at the BackingStorage needs a third rank (Timeloop: 'more
    compression ranks needed than supported in hardware')."""
    s = _load("spmspm_tiled_M2")
    fmts = tuple(dataclasses.replace(f, ranks=("UOP", "CP")) if (f.level, f.tensor) ==
                 ("BackingStorage", "A") else f for f in s.sparsity.formats)
    sp = dataclasses.replace(s.sparsity, formats=fmts)
    with pytest.raises(MappingError, match="more compression ranks needed"):
        evaluate_sparse(s.workload, s.arch, s.mapping, sp)


def test_pretiled_formats_must_align():
    s = _load("ex_02.2.2-spMspM-tiled")
    fmts = tuple(dataclasses.replace(f, ranks=("CP",)) if (f.level, f.tensor) ==
                 ("BackingStorage", "B") else f for f in s.sparsity.formats)
    with pytest.raises(MappingError, match="pretiling"):
        evaluate_sparse(s.workload, s.arch, s.mapping, dataclasses.replace(
            s.sparsity, formats=fmts))


def test_validation_names_key_and_fix():
    s = _load("ex_01.2.3-SCDU-dot-product")
    with pytest.raises(SpecError, match="unknown tensor 'W'"):
        validate_sparsity(SparsitySpec((("W", Density()),)), s.workload, s.arch)
    with pytest.raises(SpecError, match="unknown rank format 'CSR'"):
        validate_sparsity(SparsitySpec(formats=(TensorFormat("Buffer", "A", ("CSR",)),)),
                          s.workload, s.arch)
    with pytest.raises(SpecError, match=r"density must be in \[0, 1\]"):
        validate_sparsity(SparsitySpec((("A", Density("fixed_structured", 1.5)),)),
                          s.workload, s.arch)
    with pytest.raises(SpecError, match="TENSOR=VALUE"):
        parse_density_overrides(["A:0.3"])


def test_yaml_spec_equals_timeloop_spec():
    s = _load("ex_01.2.3-SCDU-dot-product")
    doc = {"sparsity": {
        "densities": {"A": 0.25},
        "formats": {"Buffer": {"A": ["CP"]}},
        "actions": [{"level": "Buffer", "type": "skipping", "target": "B", "condition_on": ["A"]},
                    {"level": "Buffer", "type": "skipping", "target": "Z", "condition_on": "A"}],
        "levels": {"Buffer": {"metadata_read_pj": 0.191076, "metadata_fill_pj": 0.170111,
                              "metadata_update_pj": 0.170111, "metadata_word_bits": 4,
                              "metadata_storage_width_bits": 4}}}}
    mine = sparsity_from_data(doc, "s.yaml")
    a = evaluate_sparse(s.workload, s.arch, s.mapping, mine).to_dict()
    b = evaluate_sparse(s.workload, s.arch, s.mapping, s.sparsity).to_dict()
    assert a["energy_pj"] == pytest.approx(b["energy_pj"]) and a["cycles"] == b["cycles"]
    with pytest.raises(SpecError, match="unknown key 'bogus'"):
        sparsity_from_data({"sparsity": {"bogus": 1}}, "s.yaml")


def test_cli_density_override_and_sparsity_file(tmp_path):
    d = FIX / "ex_01.2.3-SCDU-dot-product"
    args = ["evaluate", "--from-timeloop", str(d / "input.yaml"), str(d / "ERT.yaml"),
            str(d / "map.yaml"), "--json"]
    r = CliRunner().invoke(cli, args + ["--density", "A=0.5"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["actual_computes"] == 8 and out["levels"]["Buffer"]["B"]["skipped_reads"] == 8
    bad = CliRunner().invoke(cli, args + ["--density", "Q=0.5"])
    assert bad.exit_code == 2 and "unknown tensor 'Q'" in bad.output
    f = tmp_path / "s.yaml"
    f.write_text("sparsity:\n  densities: {A: 0.25}\n  formats: {Buffer: {A: [CP]}}\n")
    r = CliRunner().invoke(cli, args + ["--sparsity", str(f)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["levels"]["Buffer"]["A"]["actual_reads"] == 4
    assert out["levels"]["Buffer"]["B"]["skipped_reads"] == 0  # no skipping in this file


@pytest.mark.parametrize("preset,arch", [("eyeriss_like_sparse", "eyeriss_like"),
                                         ("sparse_tensor_core_2to4", "sparse_tensor_core_like")])
def test_sparsity_presets_fit_their_architecture(preset, arch):
    from loopscape.spaces.io.yaml_sparsity import load_sparsity
    from loopscape.spaces.presets import list_presets, resolve_arch, resolve_layer
    info = next(p for p in list_presets("sparsity") if p.name == preset)
    assert info.architecture == arch and info.source
    validate_sparsity(load_sparsity(preset), resolve_layer("resnet50_conv2_x_3x3"),
                      resolve_arch(arch))


def test_two_to_four_weights_halve_the_effective_computes():
    """2:4 weights kept compressed down to the MACs: exactly half of the products have a
    non-zero weight, whichever way (skipped input reads or skipped computes) a mapping
    removes the others. (Weights decompressed into the uncompressed RF reach the MACs
    with their zeros, which compute skipping does not remove: not checked here.)"""
    from loopscape.spaces.io.yaml_sparsity import load_sparsity
    from loopscape.spaces.mapspace import Mapspace
    from loopscape.spaces.presets import resolve_arch, resolve_layer
    from loopscape.spaces.sparse_capacity import capacity_arch
    w, a = resolve_layer("bert_base_ffn1"), resolve_arch("sparse_tensor_core_like")
    spec = load_sparsity("sparse_tensor_core_2to4")
    checked = 0
    for _, m in Mapspace(w, capacity_arch(a, w, spec)).sample(40, seed=1):
        if any("Weights" in lm.keep and not spec.ranks(lm.target, "Weights")
               for lm in m.levels):
            continue
        r = evaluate_sparse(w, a, m, spec)
        assert r.actual_computes == w.macs // 2
        assert r.actual_computes + r.skipped_computes + r.gated_computes <= w.macs
        checked += 1
    assert checked >= 3


def test_cli_names_the_missing_rank(tmp_path):
    """The Timeloop variant Timeloop refuses: A tiled at the BackingStorage with one rank
    too few. The CLI prints one error line naming the level and exits 2."""
    import yaml
    d = FIX / "spmspm_tiled_M2"
    doc = yaml.safe_load((d / "input.yaml").read_text())
    for t in doc["sparse_optimizations"]["targets"]:
        if t["name"] == "BackingStorage":
            for ds in t["representation_format"]["data_spaces"]:
                if ds["name"] == "A":
                    ds["ranks"] = [{"format": "UOP"}, {"format": "CP"}]
    (tmp_path / "input.yaml").write_text(yaml.safe_dump(doc))
    r = CliRunner().invoke(cli, ["evaluate", "--from-timeloop", str(tmp_path / "input.yaml"),
                                 str(d / "ERT.yaml"), str(d / "map.yaml"), "--json"])
    assert r.exit_code == 2
    assert "more compression ranks needed" in r.output and "BackingStorage" in r.output
    assert "Traceback" not in r.output


def test_eyexam_with_a_density_prints_the_sparse_table_with_units():
    """`eyexam --density`: the dense steps, then the sparse table; the algorithmic MACs
    are the layer's (C32 x M32 x P16 x R3 = 49,152, counted by hand) and a density
    alone (no format, no gating) changes neither computes nor energy."""
    from click.testing import CliRunner
    from loopscape.cli.main import cli
    r = CliRunner().invoke(cli, ["eyexam", "eyeriss_like", "conv1d_ex04", "--density",
                                 "Weights=0.5", "--budget", "200"], terminal_width=240)
    assert r.exit_code == 0, r.output
    assert "with sparsity" in r.output and "energy (" in r.output
    row = next(line for line in r.output.splitlines()
               if "49,152" in line and "│" in line and "of 168" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[0] == "49,152" and cells[1] == "49,152" and cells[2] == "0"
    assert cells[-1] == cells[-2]  # energy with the density == dense energy


def test_link_transfers_under_sparsity_by_hand():
    # The hand example of tests/test_semantics.py (Inputs[p + r], P = 4 at L0, R = 3 on
    # L0's Y fanout to one-word registers): with links L0 serves 6 Input words, each
    # register fills 4 and reads 4 + 2 peer words = 6; 6 words move over links. Gating
    # the registers' Input reads on Weights (density 0.5: a one-word Weights tile is empty
    # with probability 0.5; R indexes both, so the condition tile stays one word) gates
    # floor(6 x 0.5) = 3 reads (floor(4 x 0.5) = 2 without links). As in Sparseloop, the
    # peer reads are gated like any read, and the link words stay dense.
    w = einsum("Outputs[m,p] += Weights[c,m,r] * Inputs[c,r+p]", {"c": 1, "m": 1, "r": 3, "p": 4})
    a = Architecture("row", (StorageLevel("L0", read_energy_pj=2.0),
                             StorageLevel("L1", 3, 1, 3, read_energy_pj=1.0, fill_energy_pj=1.0)),
                     ComputeLevel("MAC", 3, 1, 3, energy_pj=0.5))
    m = Mapping((LevelMapping("L0", (Loop("p", 4),), (), (Loop("r", 3),),
                              ("Weights", "Inputs", "Outputs")),
                 LevelMapping("L1", (), (), (), ("Inputs",))))
    gate = sparsity_from_data({"sparsity": {"densities": {"Weights": 0.5}, "actions": [
        {"level": "L1", "type": "gating", "target": "Inputs", "condition_on": ["Weights"]}]}},
        "s.yaml")
    density_only = sparsity_from_data({"sparsity": {"densities": {"Weights": 0.5}}}, "s.yaml")
    for links, l0, reads, gated, link_words in ((False, 12, 4, 2, None), (True, 6, 6, 3, 6)):
        opts = ModelOptions(link_transfers=links)
        plain = evaluate_sparse(w, a, m, density_only, options=opts).to_dict()["levels"]
        assert (plain["L0"]["Inputs"]["reads"], plain["L1"]["Inputs"]["fills"],
                plain["L1"]["Inputs"]["reads"]) == (l0, 4, reads)
        ev = evaluate_sparse(w, a, m, gate, options=opts)
        r = ev.to_dict()["levels"]["L1"]["Inputs"]
        batched = SparseBatchEvaluator(w, a, gate, opts)(encode(w, a, [m]))
        assert (batched.energy_pj[0], batched.reads[0, 1, w.tensor_names.index("Inputs")]) == \
            (pytest.approx(ev.energy_pj), r["actual_reads"])
        assert (r["algorithmic_reads"], r["gated_reads"], r["actual_reads"], r["fills"]) == \
            (reads, gated, reads - gated, 4)
        assert r.get("link_transfers") == link_words
