"""Search result directories: the one writer and the one reader.

A result directory (``loopscape search --out DIR``, and each layer of a sweep) holds
``front.json`` (the SearchResult contract), one ``mapping_NNN.yaml`` per front point,
and the inputs that produced it (``layer.yaml``, ``arch.yaml`` and, when given,
``constraints.yaml``) so that exports and re-evaluation need nothing else. Every file
is written atomically; ``front.json`` is written last, so its presence marks a
complete directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopscape.spaces.arch import Architecture
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import (load_arch, load_constraints, load_mapping, load_workload,
                                 save_arch, save_constraints, save_mapping, save_workload,
                                 write_atomic)
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.workload import Workload

from .search import SearchResult

FRONT_FILE = "front.json"


def write_json_atomic(data: Any, path: str | os.PathLike) -> None:
    """Write ``data`` as indented JSON atomically (``loopscape.spaces.io.write_atomic``)."""
    write_atomic(json.dumps(data, indent=2) + "\n", path)


def write_result_dir(result: SearchResult, out: str | os.PathLike, workload: Workload,
                     arch: Architecture, constraints: Constraints | None = None) -> list[Path]:
    """Write ``result`` and its inputs to ``out``; return the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    save_workload(workload, out / "layer.yaml")
    save_arch(arch, out / "arch.yaml")
    written += [out / "layer.yaml", out / "arch.yaml"]
    if constraints is not None:
        save_constraints(constraints, out / "constraints.yaml")
        written.append(out / "constraints.yaml")
    data = result.to_dict()
    for k, point in enumerate(result.front):
        path = out / f"mapping_{k:03d}.yaml"
        save_mapping(point.mapping, path)
        data["front"][k]["mapping_file"] = path.name
        written.append(path)
    write_json_atomic(data, out / FRONT_FILE)
    written.append(out / FRONT_FILE)
    return written


@dataclass(frozen=True)
class ResultDir:
    """A result directory read back: inputs, the front.json contract and the mappings."""

    path: Path
    workload: Workload
    arch: Architecture
    constraints: Constraints | None
    data: dict  # front.json as written
    mappings: tuple[Mapping, ...]  # in front order

    @property
    def objectives(self) -> tuple[str, ...]:
        return tuple(self.data["objectives"])

    def point(self, k: int) -> dict:
        """The k-th front entry of front.json (objectives, metrics, mapping_file)."""
        return self.data["front"][k]


def read_result_dir(path: str | os.PathLike) -> ResultDir:
    """Load a result directory; SpecError naming the missing or broken file."""
    p = Path(path)
    front = p / FRONT_FILE
    if not front.is_file():
        raise SpecError("not a loopscape result directory (no front.json)", source=str(p),
                        fix="pass the --out DIR of `loopscape search` or a layer directory "
                            "of a sweep (DIR/layers/NAME)")
    for name in ("layer.yaml", "arch.yaml"):
        if not (p / name).is_file():
            raise SpecError(f"{name} is missing", source=str(p),
                            fix="rerun the search with this version of loopscape; result "
                                "directories keep their inputs")
    try:
        data = json.loads(front.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SpecError(f"broken JSON: {e}", source=str(front),
                        fix="rerun the search that wrote it") from None
    workload = load_workload(p / "layer.yaml")
    arch = load_arch(p / "arch.yaml")
    constraints = None
    if (p / "constraints.yaml").is_file():
        constraints = load_constraints(p / "constraints.yaml", workload, arch)
    mappings = []
    # A sparse search's mappings may fit only compressed (the sparse model checked them).
    sparse = any(e.get("metrics", {}).get("sparse") for e in data.get("front", []))
    for k, entry in enumerate(data.get("front", [])):
        name = entry.get("mapping_file", f"mapping_{k:03d}.yaml")
        mappings.append(load_mapping(p / name, workload, arch, check_capacity=not sparse))
    return ResultDir(p, workload, arch, constraints, data, tuple(mappings))
