"""Link-transfer energy: Timeloop's network attributes and ERT wire entry on import, our
YAML's ``energy_pj.link``, the price per level and the batched model's agreement.

Timeloop case B/ey_c3s1_RP (tests/fixtures/timeloop_features): the 14 inter_PE_spatial
instances fan out to 12 ifmap_spads each, and with links each fanout moves 9,984 Input
words over links (Timeloop's number, tests/test_timeloop_features.py). Timeloop prices a
link transfer at ``energy_per_hop + 2 x router_energy`` of the fanout's network, per
utilized network instance (network-legacy.cpp); its reference tables have no network
entries, so those cases' link energy is 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_batched import assert_rows_match

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import load_timeloop
from loopscape.spaces.io.timeloop.export import dump_timeloop_spec
from loopscape.spaces.io.yamlio import dump_arch, load_arch

CASE = Path(__file__).resolve().parent / "fixtures" / "timeloop_features" / \
    "B_link_transfers" / "ey_c3s1_RP"
LINKS = ModelOptions(semantics="timeloop-pre297", link_transfers=True)
WORDS, FANOUTS = 9984, 14


def _load(tmp_path: Path, attrs: dict | None = None, wire: float | None = None,
          column: dict | None = None):
    """The case with ``attrs`` added to inter_PE_spatial, ``column`` to the level above
    (it fans out to the 14 inter_PE_spatial) and an ERT wire entry."""
    arch = yaml.safe_load((CASE / "arch.yaml").read_text())
    for comp in arch["architecture"]["subtree"][0]["local"]:
        if comp["name"].startswith("inter_PE_spatial["):
            comp["attributes"].update(attrs or {})
        if comp["name"].startswith("inter_PE_column_spatial["):
            comp["attributes"].update(column or {})
    ert = yaml.safe_load((CASE / "ERT.yaml").read_text())
    if wire is not None:
        ert["ERT"]["tables"].append({"name": "system.wire", "actions": [
            {"name": "transfer_random", "arguments": {}, "energy": wire}]})
    (tmp_path / "arch.yaml").write_text(yaml.safe_dump(arch))
    (tmp_path / "ERT.yaml").write_text(yaml.safe_dump(ert))
    return load_timeloop([tmp_path / "arch.yaml", CASE / "problem.yaml", tmp_path / "ERT.yaml",
                          CASE / "map.yaml"])


def _spatial(arch):
    return arch.levels[arch.index("inter_PE_spatial")]


def _column(arch):
    return arch.levels[arch.index("inter_PE_column_spatial")]


def _link_energy(spec, options=LINKS) -> tuple[float, float]:
    ev = evaluate(spec.workload, spec.arch, spec.mapping, options=options)
    st = ev.level("ifmap_spad").tensors["Inputs"]
    assert st.link_transfers == (WORDS if options.link_transfers else None)
    return st.link_energy_pj, ev.energy_pj


def test_reference_case_has_no_link_energy(tmp_path):
    spec = _load(tmp_path)
    assert all(l.link_energy_pj == 0 for l in spec.arch.levels)
    assert _link_energy(spec)[0] == 0.0


def test_energy_per_hop_and_router_energy_price_each_link_word(tmp_path):
    base = _link_energy(_load(tmp_path))[1]
    spec = _load(tmp_path, {"energy_per_hop": 0.5, "router_energy": 0.25})
    assert _spatial(spec.arch).link_energy_pj == 1.0  # 0.5 + 2 x 0.25
    link, total = _link_energy(spec)
    assert link == WORDS * 1.0 * FANOUTS
    assert total == pytest.approx(base + link)
    ev = evaluate(spec.workload, spec.arch, spec.mapping, options=LINKS).to_dict()
    assert ev["levels"]["ifmap_spad"]["Inputs"]["link_energy_pj"] == link
    assert ev["levels"]["ifmap_spad"]["link_energy_pj"] == link
    # without links nothing is priced
    off = ModelOptions(semantics="timeloop-pre297", link_transfers=False)
    assert evaluate(spec.workload, spec.arch, spec.mapping, options=off).energy_pj == \
        pytest.approx(evaluate(spec.workload, _load(tmp_path).arch, spec.mapping,
                               options=off).energy_pj)


def test_ert_wire_energy_per_bit_and_mm_needs_the_tile_width(tmp_path):
    # 8-bit words (inter_PE_spatial's datawidth) over a 200 um tile at 0.1 pJ/b/mm.
    col = {"tile_width": 1000}
    spec = _load(tmp_path, {"tile_width": 200}, wire=0.1, column=col)
    assert _column(spec.arch).link_energy_pj == pytest.approx(8 * 1.0 * 0.1)
    assert _spatial(spec.arch).link_energy_pj == pytest.approx(8 * 0.2 * 0.1)
    assert _link_energy(spec)[0] == pytest.approx(WORDS * 0.16 * FANOUTS)
    # network_word_bits overrides the level's word bits; energy_per_hop overrides the wire
    spec = _load(tmp_path, {"tile_width": 200, "network_word_bits": 16}, wire=0.1, column=col)
    assert _spatial(spec.arch).link_energy_pj == pytest.approx(16 * 0.2 * 0.1)
    spec = _load(tmp_path, {"energy_per_hop": 0.3}, wire=0.1, column=col)
    assert _spatial(spec.arch).link_energy_pj == pytest.approx(0.3)
    # a level that fans out needs the hop length; one that does not (DRAM) does not
    with pytest.raises(SpecError, match="tile_width") as info:
        _load(tmp_path, wire=0.1, column=col)
    assert "inter_PE_spatial" in str(info.value) and "ERT" in str(info.value)
    assert info.value.key.endswith("local[3].attributes.tile_width")


def test_network_attribute_typos_are_errors(tmp_path):
    with pytest.raises(SpecError, match="router_energy"):
        _load(tmp_path, {"router_enrgy": 0.1})


def test_batched_model_prices_links_as_the_scalar_model(tmp_path):
    spec = _load(tmp_path, {"energy_per_hop": 0.5})
    assert_rows_match(spec.workload, spec.arch, [spec.mapping],
                      ModelOptions(link_transfers=True))


def test_link_energy_round_trips_through_yaml_and_timeloop_export(tmp_path):
    spec = _load(tmp_path, {"energy_per_hop": 0.5, "router_energy": 0.25})
    doc = dump_arch(spec.arch)
    spatial = next(l for l in doc["architecture"]["levels"] if l["name"] == "inter_PE_spatial")
    assert spatial["energy_pj"]["link"] == 1.0
    assert load_arch(doc) == spec.arch
    doc = dump_timeloop_spec(spec.workload, spec.arch, spec.mapping)
    (tmp_path / "all.yaml").write_text(yaml.safe_dump(doc))
    back = load_timeloop([tmp_path / "all.yaml"])
    assert _spatial(back.arch).link_energy_pj == 1.0
    assert [l.link_energy_pj for l in back.arch.levels] == \
        [l.link_energy_pj for l in spec.arch.levels]
