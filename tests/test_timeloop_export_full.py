"""`loopscape export --format timeloop --full` writes files timeloop-model accepts.

timeloop-model aborts on a buffer without a size (``Attribute<T>::Get(): Assertion
'specified_'``), and a dummy level has none of its own. Timeloop's example designs give
their ``dummy_storage`` levels ``depth: 1`` with matching width and datawidth (see the
``inter_PE_spatial`` level of tests/fixtures/timeloop/ex04_*), and the shared reference
runs were made with exactly that patch on loopscape's exports. Every preset architecture
is exported here with a mapping drawn from its mapspace; each component is checked for
the attributes Timeloop requires and the files must read back to the same evaluation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loopscape.costmodels import evaluate
from loopscape.spaces import Mapspace
from loopscape.spaces.io import (dump_timeloop_arch, dump_timeloop_ert, dump_timeloop_mapping,
                                 dump_timeloop_problem, load_timeloop, to_yaml)
from loopscape.spaces.presets import list_presets, load_arch_preset, load_workload_preset

ARCHS = [p.name for p in list_presets("architecture")]
EX04 = (Path(__file__).resolve().parent / "fixtures" / "timeloop" /
        "ex04_conv1d_oc_ic_3levelspatial_kp" / "parsed-processed-input.yaml")


def _components(doc: dict) -> list[dict]:
    return doc["architecture"]["subtree"][0]["local"]


def test_timeloops_own_dummy_levels_carry_a_size():
    """The convention followed: Timeloop's processed input of its own design."""
    doc = yaml.safe_load(EX04.read_text())
    dummies = [c for c in _components(doc) if c["class"] == "dummy_storage"]
    assert dummies and all(c["attributes"]["depth"] == 1 for c in dummies)


@pytest.mark.parametrize("arch_name", ARCHS)
def test_full_export_gives_every_buffer_a_size_and_reads_back_equal(arch_name, tmp_path):
    arch = load_arch_preset(arch_name)
    workload = load_workload_preset("conv1d_ex04")
    (_, mapping), = Mapspace(workload, arch).sample(1, seed=11)
    files = {"arch.yaml": dump_timeloop_arch(arch, workload),
             "problem.yaml": dump_timeloop_problem(workload),
             "ERT.yaml": dump_timeloop_ert(arch),
             "map.yaml": dump_timeloop_mapping(mapping, workload, arch)}
    paths = []
    for name, doc in files.items():
        (tmp_path / name).write_text(to_yaml(doc))
        paths.append(tmp_path / name)

    written = yaml.safe_load((tmp_path / "arch.yaml").read_text())
    storage = [c for c in _components(written) if c["class"] != "intmac"]
    assert len(storage) == len(arch.levels)
    for comp, lvl in zip(storage, arch.levels):
        a = comp["attributes"]
        if lvl.dummy:
            assert comp["class"] == "dummy_storage"
            assert a["depth"] == 1, comp
        if comp["class"] != "DRAM":  # Timeloop needs a size for every non-DRAM buffer
            assert "depth" in a or "entries" in a, comp
        # a clustered buffer's width is its shared array's (docs/timeloop.md)
        assert a["width"] == a["datawidth"] * a["block_size"] * a.get("cluster_size", 1), comp
        assert a.get("cluster_size", 1) == lvl.cluster_size, comp

    back = load_timeloop(paths)
    assert evaluate(back.workload, back.arch, back.mapping).to_dict() == \
        evaluate(workload, arch, mapping).to_dict()
