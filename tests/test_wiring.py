"""One place builds the app (``modelport.services`` and ``ModelportApp``): every part
gets what it needs when it is constructed, and nothing is attached to a part afterwards.

Two checks: a lint over the source (an attribute is only ever assigned on ``self``, or
on a sub-object ``self`` made itself, named in OWN_RECORDS; the exceptions are objects
of other libraries, each with its reason), and ``create_app``'s parts inspected, wired
to each other by their constructors.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.api.app import ModelportApp, create_app
from modelport.api.fastlane import FastLane
from modelport.config import Settings
from modelport.services import Services

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "modelport"

#: (module, assignment target): attributes set on objects that are no part of the app.
ALLOWED = {
    # A generated endpoint function's name, which FastAPI makes the operation id.
    ("api/custom_routes.py", "endpoint.__name__"),
    # uvicorn's own request cycle, told that its client went away.
    ("cli/transport.py", "cycle.disconnected"),
    # ...and told to close the connection after its answer (the server is shutting down).
    ("cli/transport.py", "self.cycle.keep_alive"),
    # The database driver's connection (SQLite: autocommit, so BEGIN is ours).
    ("db/engine.py", "dbapi_connection.isolation_level"),
    # The interpreter's flag, set around importing a model's code and set back.
    ("runtimes/code.py", "sys.dont_write_bytecode"),
    # A namespace module made for a model's code folder.
    ("runtimes/code.py", "merged.__path__"),
    ("runtimes/code.py", "setattr(module, name, value)"),
    # onnxruntime's SessionOptions, filled before the session is made.
    ("runtimes/onnx.py", "options.intra_op_num_threads"),
    ("runtimes/onnx.py", "options.inter_op_num_threads"),
    ("runtimes/onnx.py", "options.log_severity_level"),
    # uvicorn's way to stop a server it runs: its own flag, set from outside.
    ("api/metrics_port.py", "self._server.should_exit"),
    # The logging module's record: a filter adds the request id as logging intends.
    ("accesslog.py", "record.request_id"),
}
#: Sub-objects a class makes and owns: its own counters (after construction too), and
#: the web framework's state container (filled while the app is constructed).
OWN_RECORDS = {"self.stats.": False, "self.state.": True}


def _assignments(tree: ast.AST) -> Iterator[tuple[ast.AST, str, bool]]:
    """(node, target text, inside an __init__) for every attribute assignment and every
    setattr call."""

    def visit(node: ast.AST, in_init: bool) -> Iterator[tuple[ast.AST, str, bool]]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_init = node.name == "__init__"
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store):
                    yield sub, ast.unparse(sub), in_init
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
        ):
            yield node, ast.unparse(node), in_init
        for child in ast.iter_child_nodes(node):
            yield from visit(child, in_init)

    yield from visit(tree, False)


def _sources() -> list[Path]:
    # Generated code (the gRPC stubs) is not ours to lint.
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "proto" not in p.parts]


def _attachments(source: str, module: str) -> list[str]:
    """``module:line: target`` of each attribute assigned from outside its object."""
    found = []
    for node, text, in_init in _assignments(ast.parse(source, module)):
        if (module, text) in ALLOWED:
            continue
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            continue  # its own attribute
        owned = next(
            (only_init for p, only_init in OWN_RECORDS.items() if text.startswith(p)), None
        )
        if owned is not None and (in_init or not owned):
            continue  # a sub-object it made itself; never a part it was given
        found.append(f"{module}:{getattr(node, 'lineno', 0)}: {text}")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_is_attached_to_a_part_after_construction(path: Path) -> None:
    found = _attachments(path.read_text(), str(path.relative_to(PACKAGE)))
    assert not found, (
        f"assigned from outside the object: {found}; pass it to the constructor instead "
        "(or, for another library's object, add it to ALLOWED with the reason)"
    )


def test_the_lint_sees_an_attachment() -> None:
    factory = "def create(settings):\n    inference = make()\n    inference.cache = make()\n"
    assert _attachments(factory, "app.py") == ["app.py:3: inference.cache"]
    # In a constructor too: a part may not wire the parts it was given ...
    wiring = "class M:\n    def __init__(self, registry):\n        self.registry = registry\n"
    wiring += "        self.registry.on_change = self.changed\n"
    assert _attachments(wiring, "m.py") == ["m.py:4: self.registry.on_change"]
    # ... but it sets its own attributes, and fills the app's state while it is built.
    own = "class A:\n    def __init__(self):\n        self.x = 1\n        self.state.y = 2\n"
    own += "    def later(self):\n        self.x = 3\n        self.stats.hits += 1\n"
    assert _attachments(own, "a.py") == []
    late = "class A:\n    def later(self):\n        self.state.y = 2\n"
    assert _attachments(late, "a.py") == ["a.py:3: self.state.y"]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = Settings(model_dir=tmp_path / "models", data_dir=tmp_path, grpc_port=0)
    app = create_app(settings)
    assert isinstance(app, ModelportApp)
    yield app.services
    app.services.database.close()
    app.services.store.close()


def test_create_app_wires_the_parts_through_their_constructors(services: Services) -> None:
    s = services
    assert s.inference.registry is s.registry
    assert s.inference.cache is s.cache
    assert s.inference.log is s.prediction_log
    assert s.inference.metrics is s.metrics and s.prediction_log.metrics is s.metrics
    assert s.cache.metrics is s.metrics and s.audit.metrics is s.metrics
    assert s.metrics is not None  # on by default
    # A model's change reaches the response cache and the metrics through one callback.
    assert s.registry.on_change is not None
    assert s.prediction_log.database is s.database
    assert s.manager.database is s.database and s.manager.registry is s.registry
    assert s.manager.catalog is s.catalog and s.manager.audit is s.audit
    assert s.catalog.database is s.database and s.catalog.registry is s.registry
    assert s.audit.database is s.database and s.audit.on_change == s.doorbell.ring
    assert s.follower.catalog is s.catalog and s.follower.audit is s.audit
    assert s.feed.database is s.database and s.feed.doorbell is s.doorbell
    assert s.feed.apply == s.follower.follow
    assert s.watcher.on_change == s.follower.files_changed
    # One lock: an action here never races a replayed one.
    assert s.manager._lock is s.follower._lock


def test_the_app_holds_the_parts_it_was_built_with(tmp_path: Path) -> None:
    settings = Settings(model_dir=tmp_path / "models", data_dir=tmp_path, grpc_port=0)
    app = create_app(settings)
    assert isinstance(app, ModelportApp)
    s = app.services
    try:
        assert app.state.settings is settings is s.settings
        assert app.state.registry is s.registry and app.state.manager is s.manager
        assert app.state.database is s.database and app.state.inference is s.inference
        assert isinstance(app.fast_lane, FastLane) and app.fast_lane.inference is s.inference
    finally:
        s.database.close()
        s.store.close()
