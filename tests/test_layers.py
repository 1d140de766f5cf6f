"""The tree is the architecture: each layer of stream/ (the package harstream) imports only downward.

    core       samples in, labelled windows out      imports nothing of harstream above it
    datasets   public datasets into recordings        core
    engine     devices, windows, labels, stats         core, datasets
    adapters   transports (MQTT, AMQP, web), replay, demo, brokers     all of the above
    cli        the harstream command (commands: what each does)   all of the above

Nothing in stream/ imports training/, TensorFlow, Keras or pandas; training/ imports stream/.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STREAM = ROOT / "stream"
LAYERS = {"core": 0, "datasets": 1, "engine": 2, "adapters": 3, "cli": 4, "commands": 4, "__main__": 4, "__init__": 0, "data": 0, "models": 0}
FORBIDDEN = {"tensorflow", "keras", "pandas", "harstream.training", "training"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(STREAM).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["harstream", *parts])


def imports(path: Path) -> set[str]:
    """Absolute names of every module a file imports, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                found |= {target} if node.module else {f"{target}.{a.name}" for a in node.names}
            else:
                found.add(node.module)
    return found


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0  # names of the root package itself (__version__) are layer 0


FILES = sorted(STREAM.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_downward(path):
    own = layer(module_name(path))
    for target in imports(path):
        if target.startswith("harstream."):
            assert layer(target) <= own, f"{module_name(path)} (layer {own}) imports {target} (layer {layer(target)})"
        assert target.split(".")[0] not in FORBIDDEN and not target.startswith("harstream.training"), \
            f"{module_name(path)} imports {target}: the runtime never needs training, TensorFlow or pandas"


def test_the_layers_are_folders():
    assert {p.name for p in STREAM.iterdir() if p.is_dir() and not p.name.startswith("__")} == {"core", "datasets", "engine", "adapters", "data"}


def test_dataset_readers_do_not_import_the_registry():
    """The registry (datasets/__init__) knows every reader; no reader knows the registry or another reader."""
    readers = [p for p in (STREAM / "datasets").glob("*.py") if p.name != "__init__.py"]
    for path in readers:
        for target in imports(path):
            assert target != "harstream.datasets", f"{path.name} imports the registry"
            if target.startswith("harstream.datasets."):
                assert target.split(".")[2] in ("common", "archive"), f"{path.name} imports {target}"


def test_training_imports_the_runtime_by_its_package_name():
    for path in (ROOT / "training").glob("*.py"):
        text = path.read_text()
        assert "from stream" not in text and "import stream" not in text, path.name


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in [*FILES, *(ROOT / "training").glob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_no_module_touches_another_objects_privates():
    """``x._name`` only on ``self``/``cls``, or on objects of a class the same module defines (``Preprocessor.process_many``
    steps several preprocessors at once)."""
    found = []
    for path in FILES:
        tree = ast.parse(path.read_text())
        own = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
               and n.value.id == "self" and n.attr.startswith("_")}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            where = (str(path.relative_to(ROOT)), ast.unparse(node))
            if node.attr in own and not isinstance(node.value, ast.Call):  # the module's own class, another instance
                continue
            found.append(f"{where[0]}:{node.lineno}: {where[1]}")
    assert not found, found


def test_every_package_of_the_tree_is_in_the_wheel():
    """pyproject lists the packages by name: a new folder left out would be missing from the wheel only."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    tree = {module_name(p) for p in STREAM.rglob("__init__.py")}
    assert tree <= listed, tree - listed
