"""Packaging: every code folder installs under the ``loopscape`` namespace.

A non-editable ``pip install .`` ships only the packages pyproject.toml lists, so a
sub-package that exists on disk but is missing there would import in a checkout and
fail for users. (Checked by hand in a fresh venv: ``pip install .`` then
``python -c "import loopscape.spaces, loopscape.costmodels, loopscape.mapper,
loopscape.cli"``; site-packages then holds ``loopscape`` only.)
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed_and_mapped():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((pkg,) + rel))
    assert found == listed
    assert set(mapping) == {"loopscape.spaces", "loopscape.costmodels", "loopscape.mapper",
                            "loopscape.cli"}


def test_console_script_and_package_data():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert proj["project"]["scripts"]["loopscape"] == "loopscape.cli.main:main"
    assert "*.yaml" in proj["tool"]["setuptools"]["package-data"]["loopscape.spaces.presets"]
    assert not (ROOT / "tests" / "__init__.py").exists()  # tests never ship as a package
