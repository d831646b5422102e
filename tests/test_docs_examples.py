"""The Python examples in the docs run as written (they are the API's first users)."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("page", [DOCS / "api.md", DOCS / "mapspace.md", DOCS / "search.md", DOCS / "optimal.md",
                                  DOCS / "strategies.md", DOCS / "sweep.md", README,
                                  DOCS / "eyexam.md", DOCS / "zoo.md",
                                  DOCS / "limits.md", DOCS / "cli.md",
                                  DOCS / "semantics.md", DOCS / "timeloop.md",
                                  DOCS / "sparsity.md",
                                  DOCS / "architecture.md"],
                         ids=lambda p: p.name)
def test_python_blocks_run(page, capsys):
    if page.name == "zoo.md":  # its ONNX example needs the optional extra
        pytest.importorskip("onnx", reason="pip install 'loopscape[onnx]'")
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
