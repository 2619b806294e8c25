"""The packages import only from packages below them (or beside them in the same layer): the layering
docs/architecture.md states, checked on every module's imports."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "nextham"
# low to high; data and configuration packages at the bottom, the commands on top
LAYERS = [
    {"errors", "conventions", "configs", "assets"},
    {"kspace"},
    {"record"},
    {"io"},
    {"structures", "data"},
    {"dft", "metrics", "nn", "testing"},
    {"losses", "evaluate"},
    {"train"},
    {"predict"},
    {"cli", "__main__", "__init__"},
]
LAYER = {package: level for level, packages in enumerate(LAYERS) for package in packages}


def _package(parts) -> str:
    return parts[0][:-3] if len(parts) == 1 else parts[0]


def _imports(path: Path, root: Path = ROOT):
    """The top-level nextham packages the module at ``path`` (inside the package ``root``) imports,
    relative or absolute, with the line of each import."""
    parts = path.relative_to(root).parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(parts[:-1])[:len(parts) - node.level] if node.level > 1 else list(parts[:-1])
            target = base + (node.module.split(".") if node.module else [])
            yield (target[0] if target else node.names[0].name), node.lineno
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nextham."):
            yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nextham."):
                    yield alias.name.split(".")[1], node.lineno


def test_every_package_has_a_layer():
    packages = {_package(path.relative_to(ROOT).parts) for path in ROOT.rglob("*.py")}
    assert packages <= set(LAYER), f"packages without a layer: {sorted(packages - set(LAYER))}"


def test_no_package_imports_one_above_it():
    violations = []
    for path in sorted(ROOT.rglob("*.py")):
        package = _package(path.relative_to(ROOT).parts)
        for target, line in _imports(path):
            if target in LAYER and target != package and LAYER[target] > LAYER[package]:
                violations.append(f"{path.relative_to(ROOT.parent)}:{line} ({package}) imports {target}")
    assert not violations, "\n".join(violations)


def test_the_check_sees_a_violation(tmp_path):
    """The walk resolves relative imports of any depth and absolute ones."""
    package = tmp_path / "nextham"
    (package / "dft" / "realspace").mkdir(parents=True)
    probe = package / "dft" / "realspace" / "probe.py"
    probe.write_text("from ..generate import x\nfrom ...predict import Predictor\nimport nextham.cli.main\n"
                     "from . import kernels\n")
    assert list(_imports(probe, package)) == [("dft", 1), ("predict", 2), ("cli", 3), ("dft", 4)]
