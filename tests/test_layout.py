"""The package's layout follows the data flow: no module imports a later stage.

Stages, in order (DESIGN.md, "Data flows one way"): foundations, ``geo.io``
(normalise), ``geo.stats`` (analyse), ``geo.siting``, ``geo.maps``,
``geo.export``, the run folder's tables and figures, ``geo.report``, the
composing modules (``geo run``, ``geo batch``) and ``geo.cli``. Every import
is read from the source, those inside functions included.
"""

import ast
from pathlib import Path

import pytest

GEO = Path(__file__).resolve().parents[1] / "geo"

# module name or package prefix -> stage (smaller runs earlier)
STAGES = {
    "geo": 0, "geo.errors": 0, "geo.messages": 0, "geo.resources": 0, "geo.safety": 0,
    "geo.redact": 0, "geo.outputs": 0, "geo.data": 0,
    "geo.io": 1,
    "geo.stats": 2,
    "geo.siting": 3,
    "geo.maps": 4,
    "geo.export": 5,
    "geo.function_outputs": 6, "geo.pair_outputs": 6, "geo.panel_outputs": 6,
    "geo.report": 7,
    "geo.config": 8, "geo.panel_stage": 8, "geo.pipeline": 8, "geo.batch": 8,
    "geo.cli": 9, "geo.__main__": 9,
}


def stage(module: str) -> int | None:
    """Stage of a module: that of the longest entry of STAGES it is or lies in."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in STAGES and (end > 1 or len(parts) == 1):
            return STAGES[name]
    return None


def module_name(path: Path) -> str:
    """Dotted name of a source file under geo/."""
    parts = path.relative_to(GEO.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def geo_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of geo in a file, modules named in ``from geo import``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "geo"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "geo":
                continue
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                is_module = (GEO.parent / child.replace(".", "/")).with_suffix(".py").exists() \
                    or (GEO.parent / child.replace(".", "/")).is_dir()
                found.append((node.lineno, child if is_module else node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, "<relative import>"))
    return found


SOURCES = sorted(p for p in GEO.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_stage():
    unplaced = [module_name(p) for p in SOURCES if stage(module_name(p)) is None]
    assert not unplaced, f"add these modules to STAGES in tests/test_layout.py: {unplaced}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_no_module_imports_a_later_stage(path):
    own = stage(module_name(path))
    later = [f"line {line}: {name}" for line, name in geo_imports(path)
             if name == "<relative import>" or (stage(name) or 0) > (own or 0)]
    assert not later, f"{module_name(path)} (stage {own}) imports a later stage: {later}"


def test_the_check_sees_a_backward_import(tmp_path):
    # a stats module importing the maps must be caught, even inside a function
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from geo.maps.static import find_cjk_font\n")
    assert [stage(name) for _, name in geo_imports(source)] == [STAGES["geo.maps"]]
    assert stage("geo.stats.pairs") < stage("geo.maps.static")
    assert stage("geo.io") == stage("geo.io.crs") == 1
    assert stage("geo.export.layers") == 5 and stage("geo.exporter") is None
