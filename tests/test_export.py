"""Exports (docs/export.md) and the Timeloop writers (docs/timeloop.md#exporting-to-timeloop).

Oracles: the Timeloop reference cases (a mapping Timeloop wrote must come back equal
after loopscape writes it), re-evaluation (exported files must evaluate to the numbers
of the original objects and of front.json), hand-counted tile sizes for the loop-nest
text, and the JSON files the summaries are read from.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.costmodels import evaluate
from loopscape.mapper import (export, read_result_dir, read_sweep_dir, render_maptxt, search,
                              sweep_rows, write_result_dir)
from loopscape.mapper.export import shape_bars
from loopscape.mapper.plots import breakdown_layout
from loopscape.mapper.result_dir import write_json_atomic
from loopscape.spaces import LevelMapping, Loop, Mapping, SpecError, conv2d, einsum
from loopscape.spaces.io import (dump_timeloop_arch, dump_timeloop_ert, dump_timeloop_mapping,
                                 dump_timeloop_problem, dump_timeloop_spec, load_arch,
                                 load_constraints, load_mapping, load_timeloop, save_arch,
                                 save_mapping, save_workload, timeloop_constraints, to_yaml)
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, preset_path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "timeloop"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


def _run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _one_line_error(r) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    text = r.output.strip()
    assert text.startswith("error:") and text.count("error:") == 1
    return text


def _metrics(r) -> tuple[float, int]:
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    return d["energy_pj"], d["cycles"]


# ----------------------------------------------------------------------------------
# Timeloop writers: the reference cases
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_reference_mapping_round_trip(case, tmp_path):
    """Timeloop's own mapping, imported, written by loopscape and imported again with the
    case's original architecture and problem: the same mapping, the same numbers."""
    d = FIXTURES / case
    ert = next(d.glob("*.ERT.yaml"))
    spec = load_timeloop([d / "parsed-processed-input.yaml", ert, *d.glob("*.map.yaml")])
    exported = tmp_path / "exported.map.yaml"
    exported.write_text(to_yaml(dump_timeloop_mapping(spec.mapping, spec.workload, spec.arch)))
    original = yaml.safe_load((d / "parsed-processed-input.yaml").read_text())
    stripped = tmp_path / "input-without-mapping.yaml"  # model cases carry their mapping
    original.pop("mapping", None)
    stripped.write_text(yaml.safe_dump(original, sort_keys=False))
    back = load_timeloop([stripped, ert, exported])
    assert back.mapping == spec.mapping
    assert evaluate(back.workload, back.arch, back.mapping).to_dict() == \
        evaluate(spec.workload, spec.arch, spec.mapping).to_dict()


@pytest.mark.parametrize("case", CASES)
def test_reference_full_spec_round_trip_is_exact(case, tmp_path):
    d = FIXTURES / case
    spec = load_timeloop([d / "parsed-processed-input.yaml", *d.glob("*.ERT.yaml"),
                          *d.glob("*.map.yaml")])
    path = tmp_path / "all.yaml"
    path.write_text(to_yaml(dump_timeloop_spec(spec.workload, spec.arch, spec.mapping)))
    back = load_timeloop([path])
    assert (back.workload, back.arch, back.mapping) == (spec.workload, spec.arch, spec.mapping)


def test_mapping_entries_follow_timeloops_conventions():
    """ex04_kp by hand: MainMemory fans out K16 over X; GlobalBuffer loops C32, K2, R3
    (outermost first); RegisterFile loops P16; inter_PE_spatial bypasses everything."""
    d = FIXTURES / "ex04_conv1d_oc_ic_3levelspatial_kp"
    spec = load_timeloop([d / "parsed-processed-input.yaml", d / "timeloop-model.ERT.yaml"])
    entries = dump_timeloop_mapping(spec.mapping, spec.workload, spec.arch)["mapping"]
    by = {(e["target"], e["type"]): e for e in entries}
    dims = spec.workload.dims  # the problem's order
    glb = by[("GlobalBuffer", "temporal")]
    assert glb["permutation"][:3] == "RKC"  # innermost first
    assert sorted(glb["permutation"]) == sorted(dims)
    assert glb["factors"].split() == [f"{x}={dict(C=32, K=2, R=3).get(x, 1)}" for x in dims]
    sp = by[("inter_PE_spatial", "spatial")]
    assert sp["split"] == 1 and sp["permutation"][0] == "K" and "K=16" in sp["factors"].split()
    assert by[("inter_PE_spatial", "datatype")] == {
        "target": "inter_PE_spatial", "type": "datatype", "keep": [],
        "bypass": ["Weights", "Inputs", "Outputs"]}
    assert by[("RegisterFile", "temporal")]["permutation"][0] == "P"
    assert ("MainMemory", "spatial") not in by  # MainMemory does not fan out here


# ----------------------------------------------------------------------------------
# Timeloop writers: presets and hand-made designs, through files and the CLI
# ----------------------------------------------------------------------------------

MESH_ARCH = {"architecture": {"name": "mesh2d", "levels": [
    {"name": "DRAM", "block_size": 8, "energy_pj": {"read": 512, "fill": 512, "update": 512}},
    {"name": "Buffer", "capacity_words": 65536, "block_size": 8,
     "energy_pj": {"read": 18.2, "fill": 14.1, "update": 14.1, "leak": 0.0057},
     "bandwidth": {"read": 16, "write": 16}, "technology": "45nm"},
    {"name": "RegFile", "capacity_words": 128, "word_bits": 16, "multiple_buffering": 2,
     "energy_pj": {"read": 0.2, "fill": 0.18, "update": 0.18}, "mesh": [4, 4]}],
    "compute": {"name": "MAC", "mesh": [4, 4], "energy_pj": 0.21}}}


def _mesh_design():
    """A 4x4 mesh with M over X and C over Y, stride 2, Weights bypassing the Buffer."""
    arch = load_arch(MESH_ARCH)
    layer = conv2d(C=8, M=16, P=7, Q=7, R=3, S=3, stride=2, name="small_conv")
    mapping = Mapping((
        LevelMapping("DRAM", (Loop("Q", 7),), keep=("Weights", "Inputs", "Outputs")),
        LevelMapping("Buffer", (Loop("C", 2), Loop("P", 7)), spatial_x=(Loop("M", 4),),
                     spatial_y=(Loop("C", 4),), keep=("Inputs", "Outputs")),
        LevelMapping("RegFile", (Loop("M", 4), Loop("R", 3), Loop("S", 3)),
                     keep=("Weights", "Inputs", "Outputs"))))
    return layer, arch, mapping


def _searched(arch_name: str, constraints: str | None, budget: int):
    arch = load_arch_preset(arch_name)
    layer = load_layer_preset("resnet50_conv2_x_3x3")
    c = load_constraints(preset_path(constraints, "constraints"), layer, arch) \
        if constraints else None
    result = search(layer, arch, c, strategy="random", evaluations=budget, seed=0)
    best = min(result.front, key=lambda p: p.evaluation["edp_j_cycles"])
    return layer, arch, best.mapping


DESIGNS = {
    "eyeriss_like": lambda: _searched("eyeriss_like", "eyeriss_like_constraints", 2000),
    "simba_like": lambda: _searched("simba_like", None, 1000),
    "mesh2d_bypass": _mesh_design,
}


def _check_same_design(back, layer, arch, mapping):
    """What load_timeloop returns equals the original, apart from the fields Timeloop
    has no place for (docs/timeloop.md#exporting-to-timeloop)."""
    assert back.mapping == mapping
    w = back.workload
    assert (w.name, w.dims, w.bounds, w.tensors) == (layer.name, layer.dims, layer.bounds,
                                                      layer.tensors)
    assert dict(w.params) == {k: v for k, v in layer.params if k != "groups"}
    assert back.arch.name == arch.name and back.arch.compute == arch.compute
    c = timeloop_constraints(back, back.workload, back.arch)
    for i, (got, want) in enumerate(zip(back.arch.levels, arch.levels)):
        dram_class = i == 0 and want.capacity_words is None or want.technology == "DRAM"
        assert got.technology == ("DRAM" if dram_class else want.technology)
        assert got == replace(want, keeps=None, technology=got.technology)
        bypassed = set(next((lc.bypass for lc in c.levels if lc.target == want.name), ()))
        if want.keeps is not None and not want.dummy:
            assert bypassed == set(layer.tensor_names) - set(want.keeps)
        else:
            assert not bypassed


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_full_spec_round_trip_through_files_and_cli(design, tmp_path):
    layer, arch, mapping = DESIGNS[design]()
    files = {"arch.yaml": dump_timeloop_arch(arch, layer),
             "problem.yaml": dump_timeloop_problem(layer), "ERT.yaml": dump_timeloop_ert(arch),
             "map.yaml": dump_timeloop_mapping(mapping, layer, arch)}
    paths = []
    for name, doc in files.items():
        (tmp_path / name).write_text(to_yaml(doc))
        paths.append(tmp_path / name)
    back = load_timeloop(paths)
    _check_same_design(back, layer, arch, mapping)
    assert evaluate(back.workload, back.arch, back.mapping).to_dict() == \
        evaluate(layer, arch, mapping).to_dict()
    ours = tmp_path / "ours"
    ours.mkdir()
    save_arch(arch, ours / "arch.yaml")
    save_workload(layer, ours / "layer.yaml")
    save_mapping(mapping, ours / "mapping.yaml")
    original = _metrics(_run("evaluate", ours / "arch.yaml", ours / "layer.yaml",
                             ours / "mapping.yaml", "--json"))
    assert _metrics(_run("evaluate", "--from-timeloop", *paths, "--json")) == original


def test_mesh_mapping_uses_both_axes():
    layer, arch, mapping = _mesh_design()
    entries = dump_timeloop_mapping(mapping, layer, arch)["mapping"]
    sp = next(e for e in entries if e["type"] == "spatial")
    assert sp["target"] == "Buffer" and sp["split"] == 1
    assert sp["permutation"][:2] == "MC"  # X loops first, then Y
    problem = dump_timeloop_problem(layer)["problem"]
    inputs = next(t for t in problem["shape"]["data_spaces"] if t["name"] == "Inputs")
    assert inputs["projection"][2] == [["P", "Wstride"], ["R", "Wdilation"]]
    assert problem["instance"]["Wstride"] == 2 and problem["instance"]["Hdilation"] == 1


def test_what_timeloop_files_cannot_say_is_an_error():
    layer, arch, mapping = _mesh_design()
    bits = replace(arch, levels=(arch.levels[0], arch.levels[1],
                                 replace(arch.levels[2], tensor_bits=(("Outputs", 24),))))
    with pytest.raises(SpecError, match="tensor_bits"):
        dump_timeloop_arch(bits)
    dotted = replace(arch, levels=(arch.levels[0], replace(arch.levels[1], name="glb.0"),
                                   arch.levels[2]))
    with pytest.raises(SpecError, match="glb.0"):
        dump_timeloop_ert(dotted)
    long_dims = einsum("Out[mm, n] += A[mm, k] * B[k, n]", {"mm": 4, "n": 4, "k": 4})
    with pytest.raises(SpecError, match="one letter"):
        dump_timeloop_problem(long_dims)
    wrong = replace(mapping, levels=mapping.levels[:2])
    with pytest.raises(SpecError, match="levels"):
        dump_timeloop_mapping(wrong, layer, arch)


# ----------------------------------------------------------------------------------
# maptxt
# ----------------------------------------------------------------------------------

def test_maptxt_lists_loops_and_hand_counted_tiles():
    arch = load_arch({"architecture": {"name": "mini", "levels": [
        {"name": "DRAM", "energy_pj": {"read": 1, "fill": 1, "update": 1}},
        {"name": "Buffer", "capacity_words": 1024, "energy_pj": {"read": 1, "fill": 1, "update": 1}},
        {"name": "RegFile", "capacity_words": 64, "mesh": [2, 1],
         "energy_pj": {"read": 1, "fill": 1, "update": 1}}],
        "compute": {"name": "MAC", "mesh": [2, 1], "energy_pj": 1}}})
    layer = einsum("Outputs[K, P] += Weights[C, K, R] * Inputs[C, R+P]",
                   {"C": 4, "K": 2, "R": 3, "P": 8}, name="conv1d")
    mapping = Mapping((
        LevelMapping("DRAM", (Loop("C", 2),), keep=("Weights", "Inputs", "Outputs")),
        LevelMapping("Buffer", (Loop("P", 2),), spatial_x=(Loop("K", 2),),
                     keep=("Inputs", "Outputs")),
        LevelMapping("RegFile", (Loop("C", 2), Loop("R", 3), Loop("P", 4)),
                     keep=("Weights", "Inputs", "Outputs"))))
    text = render_maptxt(layer, arch, mapping, title="hand example")
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    # Tiles: DRAM holds everything: Weights C4*K2*R3 = 24, Inputs C4*(P8+R3-1) = 40,
    # Outputs K2*P8 = 16. Buffer covers C2 (RegFile) x P2*4 x K2 (spatial) x R3:
    # Inputs 2*(8+3-1) = 20, Outputs 2*8 = 16 (Weights bypass it). One RegFile covers
    # C2 R3 P4: Weights 2*3 = 6, Inputs 2*(4+3-1) = 12, Outputs 4. MACs 4*2*3*8 = 192.
    assert body == [
        "DRAM [ Weights:24 Inputs:40 Outputs:16 ]",
        "| for C in [0:2)",
        "Buffer [ Inputs:20 Outputs:16 ]",
        "|   for P in [0:2)",
        "|     for K in [0:2) (Spatial-X)",
        "RegFile x2 [ Weights:6 Inputs:12 Outputs:4 ]",
        "|       for C in [0:2)",
        "|         for R in [0:3)",
        "|           for P in [0:4)",
        "<< MAC x2: 192 MACs >>",
    ]
    assert text.startswith("# hand example\n")


# ----------------------------------------------------------------------------------
# Result and sweep directories
# ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def result_dir(tmp_path_factory):
    arch = load_arch_preset("eyeriss_like")
    layer = load_layer_preset("resnet50_conv2_x_3x3")
    c = load_constraints(preset_path("eyeriss_like_constraints", "constraints"), layer, arch)
    result = search(layer, arch, c, strategy="random", evaluations=3000, seed=0)
    assert len(result.front) >= 2
    out = tmp_path_factory.mktemp("result") / "conv2"
    write_result_dir(result, out, layer, arch, c)
    return out


def _breakdown(metrics: dict, compute: str) -> dict:
    out = {name: lvl["energy_pj"] for name, lvl in metrics["levels"].items()}
    out[compute] = metrics["compute_energy_pj"]
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A sweep directory built by hand from the summary.json schema: two shapes, three
    network layers (the first shape twice), and choices that are not the least-EDP
    points, so that 'the sweep's choice' and a re-selection differ."""
    arch = load_arch_preset("simple_weight_stationary")
    shapes = {"aaaa": load_layer_preset("conv1d_ex04"),
              "bbbb": conv2d(C=8, M=16, P=8, Q=8, R=3, S=3, stride=2, name="small")}
    root = tmp_path_factory.mktemp("sweep") / "net"
    fronts = {}
    for key, w in shapes.items():
        result = search(w, arch, strategy="random", evaluations=1500, seed=1)
        assert len(result.front) >= 2
        write_result_dir(result, root / "layers" / key, w, arch)
        fronts[key] = json.loads((root / "layers" / key / "front.json").read_text())
    chosen = {"aaaa": len(fronts["aaaa"]["front"]) - 1, "bbbb": 0}
    layers = []
    for index, (name, key) in enumerate([("l0", "aaaa"), ("l1", "bbbb"), ("l2", "aaaa")]):
        m = fronts[key]["front"][chosen[key]]["metrics"]
        layers.append({"index": index, "name": name, "dims": shapes[key].shape,
                       "shape_key": key, "result_dir": f"layers/{key}",
                       "front_index": chosen[key], "macs": m["macs"],
                       "energy_pj": m["energy_pj"], "cycles": m["cycles"],
                       "edp_j_cycles": m["edp_j_cycles"], "utilization": m["utilization"],
                       "energy_breakdown_pj": _breakdown(m, arch.compute.name),
                       "mapping": yaml.safe_load((root / "layers" / key / fronts[key]["front"][
                           chosen[key]]["mapping_file"]).read_text())["mapping"]})
    energy = sum(e["energy_pj"] for e in layers)
    cycles = sum(e["cycles"] for e in layers)
    macs = sum(e["macs"] for e in layers)
    total = {}
    for e in layers:
        for n, v in e["energy_breakdown_pj"].items():
            total[n] = total.get(n, 0.0) + v
    write_json_atomic({"network": "tiny", "arch": arch.name, "constraints": None,
                       "select": "edp", "macs": macs, "energy_pj": energy, "cycles": cycles,
                       "edp_j_cycles": energy * 1e-12 * cycles,
                       "utilization": macs / (arch.compute.instances * cycles),
                       "energy_breakdown_pj": total, "layers": layers},
                      root / "summary.json")
    return root


def test_default_point_is_least_edp_and_yaml_is_that_mapping(result_dir, tmp_path):
    data = json.loads((result_dir / "front.json").read_text())
    edp = [p["metrics"]["energy_pj"] * p["metrics"]["cycles"] for p in data["front"]]
    k = edp.index(min(edp))
    out = tmp_path / "best.yaml"
    assert _run("export", result_dir, "--format", "yaml", "--out", out).exit_code == 0
    rd = read_result_dir(result_dir)
    assert load_mapping(out, rd.workload, rd.arch) == rd.mappings[k]
    r = _run("export", result_dir, "--format", "yaml", "--point", 0)
    assert r.exit_code == 0
    assert yaml.safe_load(r.output) == yaml.safe_load(
        (result_dir / data["front"][0]["mapping_file"]).read_text())


def test_cli_timeloop_export_evaluates_like_the_original(result_dir, tmp_path):
    data = json.loads((result_dir / "front.json").read_text())
    for k in range(len(data["front"])):
        d = tmp_path / f"tl{k}"
        r = _run("export", result_dir, "--format", "timeloop", "--full", "--point", k, "--out", d)
        assert r.exit_code == 0, r.output
        files = [d / n for n in ("arch.yaml", "problem.yaml", "ERT.yaml", "map.yaml")]
        got = _metrics(_run("evaluate", "--from-timeloop", *files, "--json"))
        want = _metrics(_run("evaluate", result_dir / "arch.yaml", result_dir / "layer.yaml",
                             result_dir / data["front"][k]["mapping_file"], "--json"))
        assert got == want == (data["front"][k]["metrics"]["energy_pj"],
                               data["front"][k]["metrics"]["cycles"])
    alone = _run("export", result_dir, "--format", "timeloop", "--point", 0)
    assert alone.exit_code == 0
    assert [e["type"] for e in yaml.safe_load(alone.output)["mapping"]][:2] == \
        ["temporal", "datatype"]


def test_result_csv_and_json_rows_match_front_json(result_dir):
    data = json.loads((result_dir / "front.json").read_text())
    r = _run("export", result_dir, "--format", "csv", "--select", "cycles")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert len(rows) == len(data["front"])
    fastest = min(range(len(rows)), key=lambda k: (data["front"][k]["metrics"]["cycles"],
                                                   data["front"][k]["metrics"]["energy_pj"]))
    for k, (row, point) in enumerate(zip(rows, data["front"])):
        m = point["metrics"]
        assert int(row["point"]) == k and row["chosen"] == str(k == fastest)
        assert row["mapping_file"] == point["mapping_file"]
        assert float(row["energy_pj"]) == m["energy_pj"] and int(row["cycles"]) == m["cycles"]
        assert float(row["edp_j_cycles"]) == m["edp_j_cycles"]
        assert float(row["utilization"]) == m["utilization"]
        for o, v in point["objectives"].items():
            assert float(row[f"objective:{o}"]) == v
        for level, stats in m["levels"].items():
            assert float(row[f"energy_pj:{level}"]) == stats["energy_pj"]
        assert float(row["energy_pj:mac"]) == m["compute_energy_pj"]
        parts = sum(float(v) for c, v in row.items() if c.startswith("energy_pj:"))
        assert parts == pytest.approx(m["energy_pj"], rel=1e-12)
    j = _run("export", result_dir, "--format", "json", "--point", 1)
    doc = json.loads(j.output)
    assert doc["chosen_point"] == 1 and [p["chosen"] for p in doc["points"]].count(True) == 1
    assert [p["energy_pj"] for p in doc["points"]] == \
        [p["metrics"]["energy_pj"] for p in data["front"]]


def test_sweep_json_and_csv_are_summary_rows(sweep_dir):
    summary = json.loads((sweep_dir / "summary.json").read_text())
    doc = json.loads(_run("export", sweep_dir, "--format", "json").output)
    assert doc["source"] == "sweep" and doc["network"] == "tiny"
    for key in ("macs", "energy_pj", "cycles", "edp_j_cycles", "utilization",
                "energy_breakdown_pj"):
        assert doc[key] == summary[key]
    keys = ("index", "name", "dims", "shape_key", "front_index", "macs", "energy_pj", "cycles",
            "edp_j_cycles", "utilization", "energy_breakdown_pj")
    assert doc["layers"] == [{k: e[k] for k in keys} for e in summary["layers"]]
    rows = list(csv.DictReader(io.StringIO(_run("export", sweep_dir, "--format", "csv").output)))
    assert [r["name"] for r in rows] == ["l0", "l1", "l2"]
    for row, e in zip(rows, summary["layers"]):
        assert row["dims"] == " ".join(f"{d}={b}" for d, b in e["dims"].items())
        assert int(row["front_index"]) == e["front_index"] and int(row["macs"]) == e["macs"]
        assert float(row["energy_pj"]) == e["energy_pj"] and int(row["cycles"]) == e["cycles"]
        for n, v in e["energy_breakdown_pj"].items():
            assert float(row[f"energy_pj:{n}"]) == v


def test_sweep_reselection_reads_the_fronts(sweep_dir):
    doc = json.loads(_run("export", sweep_dir, "--format", "json", "--select", "cycles").output)
    fronts = {k: json.loads((sweep_dir / "layers" / k / "front.json").read_text())["front"]
              for k in ("aaaa", "bbbb")}
    fastest = {k: min(range(len(f)), key=lambda i: (f[i]["metrics"]["cycles"],
                                                    f[i]["metrics"]["energy_pj"]))
               for k, f in fronts.items()}
    for row in doc["layers"]:
        m = fronts[row["shape_key"]][fastest[row["shape_key"]]]["metrics"]
        assert row["front_index"] == fastest[row["shape_key"]]
        assert (row["energy_pj"], row["cycles"]) == (m["energy_pj"], m["cycles"])
    assert doc["cycles"] == sum(r["cycles"] for r in doc["layers"])
    assert doc["energy_pj"] == pytest.approx(sum(r["energy_pj"] for r in doc["layers"]))


def test_sweep_mapping_exports_one_file_per_shape(sweep_dir, tmp_path):
    summary = json.loads((sweep_dir / "summary.json").read_text())
    out = tmp_path / "maps"
    assert _run("export", sweep_dir, "--format", "yaml", "--out", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["aaaa.yaml", "bbbb.yaml"]
    sd = read_sweep_dir(sweep_dir)
    for e in summary["layers"]:
        rd = sd.result(e)
        assert load_mapping(out / f"{e['shape_key']}.yaml", rd.workload, rd.arch) == \
            rd.mappings[e["front_index"]]
        assert e["name"] in (out / f"{e['shape_key']}.yaml").read_text()
    tl = tmp_path / "tl"
    assert _run("export", sweep_dir, "--format", "timeloop", "--full", "--out", tl).exit_code == 0
    for e in summary["layers"]:
        k = e["shape_key"]
        spec = load_timeloop([tl / "arch.yaml", tl / "ERT.yaml", tl / f"{k}.problem.yaml",
                              tl / f"{k}.map.yaml"])
        got = evaluate(spec.workload, spec.arch, spec.mapping)
        assert (got.energy_pj, got.cycles) == (e["energy_pj"], e["cycles"])
    txt = tmp_path / "txt"
    assert _run("export", sweep_dir, "--format", "maptxt", "--out", txt).exit_code == 0
    assert (txt / "bbbb.map.txt").read_text().rstrip().endswith(f"{8 * 16 * 8 * 8 * 9} MACs >>")


def test_plots_are_valid_png_and_svg(result_dir, sweep_dir, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "front.png"
    assert _run("export", result_dir, "--format", "plot", "--out", png).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "energy.svg"
    assert _run("export", sweep_dir, "--format", "plot", "--out", svg).exit_code == 0
    assert ET.parse(svg).getroot().tag.endswith("svg")
    text = _one_line_error(_run("export", result_dir, "--format", "plot", "--out",
                                tmp_path / "front.pdf"))
    assert ".png or .svg" in text and not (tmp_path / "front.pdf").exists()


def test_plot_without_matplotlib_says_what_to_install(result_dir, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    text = _one_line_error(_run("export", result_dir, "--format", "plot", "--out",
                                tmp_path / "front.png"))
    assert "install loopscape[plot]" in text


def test_user_mistakes_are_one_line_errors(result_dir, sweep_dir, tmp_path):
    n = len(json.loads((result_dir / "front.json").read_text())["front"])
    assert "unknown export format 'pdf'" in _one_line_error(
        _run("export", result_dir, "--format", "pdf"))
    assert f"the front has {n} point(s)" in _one_line_error(
        _run("export", result_dir, "--format", "yaml", "--point", n))
    assert "no point -1" in _one_line_error(_run("export", result_dir, "--format", "yaml",
                                                 "--point", -1))
    assert "not both" in _one_line_error(_run("export", result_dir, "--format", "yaml",
                                              "--point", 0, "--select", "edp"))
    assert "unknown selection rule" in _one_line_error(
        _run("export", result_dir, "--format", "yaml", "--select", "fastest"))
    assert "--full applies" in _one_line_error(_run("export", result_dir, "--format", "csv",
                                                    "--full"))
    assert "one front per layer" in _one_line_error(_run("export", sweep_dir, "--format",
                                                         "yaml", "--point", 0))
    assert "--out DIR" in _one_line_error(_run("export", sweep_dir, "--format", "yaml"))
    assert "needs a file" in _one_line_error(_run("export", result_dir, "--format", "plot"))
    assert "not a result directory" in _one_line_error(_run("export", tmp_path, "--format",
                                                            "csv"))
    before = (result_dir / "arch.yaml").read_text()
    assert "would overwrite" in _one_line_error(
        _run("export", result_dir, "--format", "yaml", "--out", result_dir / "arch.yaml"))
    assert (result_dir / "arch.yaml").read_text() == before
    with pytest.raises(SpecError, match="unknown export format"):
        export(result_dir, "xml")


# ----------------------------------------------------------------------------------
# The documentation's examples run as written
# ----------------------------------------------------------------------------------

def _doc_commands(plots: bool) -> list[str]:
    """The ``loopscape`` lines of docs/export.md's bash blocks: those that draw a plot, or
    the others."""
    text = (ROOT / "docs" / "export.md").read_text()
    return [line for block in re.findall(r"```bash\n(.*?)```", text, re.S)
            for line in block.replace("\\\n", " ").splitlines()
            if line.startswith("loopscape ") and "RESULT" not in line
            and ("--format plot" in line) == plots]


def test_export_docs_plot_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    lines = _doc_commands(plots=True)
    assert lines
    sources = [l for l in _doc_commands(plots=False) if l.split()[1] in ("search", "sweep")]
    for line in sources + lines:  # the plots read the directories these write
        r = CliRunner().invoke(cli, shlex.split(line)[1:])
        assert r.exit_code == 0, f"{line}\n{r.output}"


def test_export_docs_examples_run(tmp_path, monkeypatch):
    """Every example but the plots (test_export_docs_plot_examples_run: they need the
    plot extra)."""
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs" / "export.md").read_text()
    for line in _doc_commands(plots=False):
        r = CliRunner().invoke(cli, shlex.split(line)[1:])
        assert r.exit_code == 0, f"{line}\n{r.output}"
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        exec(compile(block, "docs/export.md", "exec"), {})
    section = (ROOT / "docs" / "timeloop.md").read_text().split("## Exporting to Timeloop")[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/timeloop.md", "exec"), {})


# ----------------------------------------------------------------------------------
# The energy breakdown: one bar per layer shape, no empty series
# ----------------------------------------------------------------------------------

def test_breakdown_bars_group_layers_by_shape(sweep_dir):
    rows = sweep_rows(read_sweep_dir(sweep_dir))
    bars = shape_bars(rows)
    # l0 and l2 share shape aaaa: one bar named after l0, their energies added.
    assert [label for label, _ in bars] == ["#0 l0 (2 layers)", "#1 l1"]
    a, b = bars[0][1], bars[1][1]
    for name, v in rows[0]["energy_breakdown_pj"].items():
        assert a[name] == pytest.approx(2 * v)
    assert b == rows[1]["energy_breakdown_pj"]
    total = sum(r["energy_pj"] for r in rows)
    assert sum(sum(bar.values()) for _, bar in bars) == pytest.approx(total, rel=1e-12)


def test_breakdown_layout_drops_empty_parts_and_sums_the_smallest_bars():
    bars = [("a", {"DRAM": 5.0, "link": 0.0, "mac": 1.0}), ("b", {"DRAM": 1.0, "link": 0.0}),
            ("c", {"DRAM": 2.0, "mac": 2.0}), ("d", {"DRAM": 0.5, "buf": 0.25})]
    kept, parts = breakdown_layout(bars, max_bars=10)
    assert kept == bars and parts == ["DRAM", "mac", "buf"]  # "link" is zero everywhere
    # Three bars at most: the two of most energy (a: 6, c: 4) in their order, then the
    # rest (b: 1, d: 0.75) summed.
    kept, parts = breakdown_layout(bars, max_bars=3)
    assert [label for label, _ in kept] == ["a", "c", "other (2 bars summed)"]
    assert kept[2][1] == {"DRAM": 1.5, "link": 0.0, "buf": 0.25}
    assert parts == ["DRAM", "mac", "buf"]
