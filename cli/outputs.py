"""Output paths, checked before any work starts, and a finished search that is never lost
to an output error.

``check_output_dir``/``check_output_file`` raise a SpecError naming the path, the option
and the fix (a path through a file, a missing or read-only directory) so that a long
search does not run only to fail when it writes. ``write_or_rescue`` writes a result
and, if that still fails (the disk filled up, the directory was removed meanwhile),
writes it to a fresh directory under the system's temporary directory and says where.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from loopscape.spaces.errors import SpecError

__all__ = ["check_output_dir", "check_output_file", "write_or_rescue"]


def _existing_ancestor(p: Path) -> Path:
    """The nearest part of ``p`` (itself or a parent) that exists."""
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def _check_under(p: Path, option: str) -> None:
    """The directory that will hold ``p`` can be created and written."""
    anc = _existing_ancestor(p)
    if not anc.is_dir():
        raise SpecError(f"{anc} is a file, so {p} cannot be created under it", key=option,
                        source=str(p), fix=f"choose another path for {option}, or move {anc}")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise SpecError(f"the directory {anc} is not writable", key=option, source=str(p),
                        fix=f"choose a writable location for {option}")


def check_output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """A directory that exists (writable) or can be created; SpecError otherwise."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SpecError("is a file, expected a directory", key=option, source=str(p),
                        fix=f"give {option} a directory name (it is created if missing)")
    _check_under(p, option)
    return p


def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """A file path whose directory exists and is writable; SpecError otherwise."""
    p = Path(path)
    if p.is_dir():
        raise SpecError("is a directory, expected a file name", key=option, source=str(p),
                        fix=f"give {option} a file name, e.g. {p / 'plot.png'}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        anc = _existing_ancestor(parent)
        if not anc.is_dir():
            raise SpecError(f"{anc} is a file, so {p} cannot be created under it", key=option,
                            source=str(p), fix=f"choose another path for {option}")
        raise SpecError(f"the directory {parent} does not exist", key=option, source=str(p),
                        fix=f"create it first (mkdir -p {parent}) or choose another path")
    # the file is written beside itself and renamed into place, so its directory must be
    # writable (an existing file is replaced: a second run may reuse the path)
    _check_under(parent, option)
    return p


def write_or_rescue(write: Callable[[Path], object], out: Path, what: str,
                    warn: Callable[[str], None]) -> Path:
    """Call ``write(out)``; if it fails with an OS or spec error, call ``write`` on a new
    temporary directory instead, ``warn`` where the result went, and return that path."""
    try:
        write(out)
        return out
    except (OSError, SpecError) as e:
        rescue = Path(tempfile.mkdtemp(prefix=f"loopscape-{what}-"))
        write(rescue)
        warn(f"could not write {out} ({e}); the {what} result was saved to {rescue} instead")
        return rescue
