"""Writing an export: the files it may not overwrite, atomic writes, output directories,
and the text of mapping files (loopscape YAML, Timeloop YAML) with their header notes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from loopscape.spaces.arch import Architecture
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import (dump_mapping, dump_timeloop_arch, dump_timeloop_ert,
                                 dump_timeloop_mapping, dump_timeloop_problem, to_yaml,
                                 write_atomic)
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.workload import Workload

from ..result_dir import FRONT_FILE, ResultDir
from ..sweep import SUMMARY_FILE

__all__ = ["ExportOutput", "guard", "mapping_yaml", "out_dir", "point_note", "text_out",
           "timeloop_files", "timeloop_yaml", "write_files"]

# Files of a result or sweep directory that an export must never overwrite.
_PROTECTED = re.compile(r"^(front\.json|summary\.json|sweep\.json|layer\.yaml|arch\.yaml|"
                        r"constraints\.yaml|mapping_\d+\.yaml)$")


@dataclass(frozen=True)
class ExportOutput:
    """What an export produced: ``text`` for standard output (when no ``out`` was given)
    or the ``files`` written."""

    text: str | None
    files: tuple[Path, ...]


def guard(path: Path) -> None:
    """Refuse to overwrite the inputs of a result or sweep directory."""
    parent = path.parent
    if _PROTECTED.match(path.name) and ((parent / FRONT_FILE).is_file()
                                        or (parent / SUMMARY_FILE).is_file()):
        raise SpecError(f"would overwrite {path.name} of the result directory {parent}",
                        source=str(path), key="--out",
                        fix="write the export somewhere else (a new file or directory)")


def write_files(files: dict[Path, str | bytes]) -> tuple[Path, ...]:
    for path in files:
        guard(path)
    for path, data in files.items():
        write_atomic(data, path)
    return tuple(files)


def out_dir(out: str | os.PathLike | None, what: str) -> Path:
    if out is None:
        raise SpecError(f"{what} writes several files", key="--out",
                        fix="give --out DIR (a directory; it is created if missing)")
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise SpecError("exists and is not a directory", source=str(d), key="--out",
                        fix="give a directory for this export")
    if (d / FRONT_FILE).is_file() or (d / SUMMARY_FILE).is_file():
        raise SpecError("is a result directory; the export would mix with its files",
                        source=str(d), key="--out", fix="give a new directory")
    d.mkdir(parents=True, exist_ok=True)
    return d


def text_out(text: str, out: str | os.PathLike | None) -> ExportOutput:
    if out is None:
        return ExportOutput(text, ())
    return ExportOutput(None, write_files({Path(out): text}))


def mapping_yaml(mapping: Mapping, note: str) -> str:
    return (f"# loopscape mapping (format: docs/formats.md)\n# {note}\n"
            + to_yaml(dump_mapping(mapping)))


def timeloop_yaml(document: dict, note: str) -> str:
    return f"# Timeloop input written by loopscape (docs/export.md)\n# {note}\n" + \
        to_yaml(document)


def point_note(rd: ResultDir, k: int, how: str) -> str:
    m = rd.data["front"][k]["metrics"]
    return (f"{rd.workload.name} on {rd.arch.name}: point {k} of {rd.path} ({how}), "
            f"energy_pj {m['energy_pj']:.6g}, cycles {m['cycles']}")


def timeloop_files(workload: Workload, arch: Architecture, mapping: Mapping, note: str,
                    d: Path, prefix: str = "", shared: bool = True) -> dict[Path, str]:
    files = {}
    if shared:
        files[d / "arch.yaml"] = timeloop_yaml(dump_timeloop_arch(arch, workload),
                                                f"architecture {arch.name}")
        files[d / "ERT.yaml"] = timeloop_yaml(dump_timeloop_ert(arch),
                                               f"energy per action of {arch.name} (pJ)")
    files[d / f"{prefix}problem.yaml"] = timeloop_yaml(dump_timeloop_problem(workload),
                                                        f"layer {workload.name}")
    files[d / f"{prefix}map.yaml"] = timeloop_yaml(
        dump_timeloop_mapping(mapping, workload, arch), note)
    return files
