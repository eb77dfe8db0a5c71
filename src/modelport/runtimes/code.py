"""Custom Python code shipped beside an artifact (``model.py``, model.yaml ``code:``).

Each file is imported under a private module name derived from its path and content,
so two models' ``model.py`` never collide in ``sys.modules``. A pickle, though, names
classes by the module they were defined in when it was written. While an artifact is
read (:func:`code_aliases`), the code is therefore also reachable the ways a pickle
refers to it:

- by the file's own name (``model.py`` -> module ``model``, ``prep.py`` -> ``prep``),
  which is what ``from model import PreProcessing`` in a training script records;
- through ``__main__``, which is what a class defined in a notebook or a script records
  (examples/flask-loan's ``PreProcessing``): its attributes are lent to ``__main__``;
- under any other module name the pickle asks for that nothing installed provides
  (``mypackage.features``): :func:`unpickle_with_code` retries with that name mapped to
  the code.

The aliases exist only while the artifact is read, under one lock, and are then undone;
the loaded objects keep their classes. User code runs with the server's rights: serve
only model folders you trust.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from modelport.errors import ModelLoadError

__all__ = [
    "code_aliases",
    "import_code_file",
    "import_code_files",
    "module_named",
    "unpickle_with_code",
]

T = TypeVar("T")

#: sys.modules and __main__ are process-wide: one aliasing load at a time.
_LOCK = threading.RLock()
#: How many unknown module names one artifact may ask for before we give up.
_MAX_RETRIES = 8
_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


def import_code_file(path: Path, module_name: str | None = None) -> ModuleType:
    """Execute one code file as a fresh module; failures name the file and the line."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path.name}: {exc}") from exc
    if module_name is None:
        digest = hashlib.sha256(str(path.resolve()).encode() + b"\0" + source).hexdigest()
        module_name = f"_modelport_code_{digest[:16]}_{_UNSAFE.sub('_', path.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"{path.name} cannot be imported as Python code")
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as an import would: dataclasses and pickling look it up.
    sys.modules[module_name] = module
    with _LOCK:
        # A version folder never changes: no __pycache__ appears in it (nor wakes a watcher).
        write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            del sys.modules[module_name]
            # A real Ctrl-C reaches the main thread only: there it stops the command. A
            # model file calling sys.exit() (or raising KeyboardInterrupt in a loading
            # thread) is a broken model, skipped like any other, not a server stopping.
            real_interrupt = isinstance(exc, KeyboardInterrupt) and (
                threading.current_thread() is threading.main_thread()
            )
            if not isinstance(exc, Exception | SystemExit | KeyboardInterrupt) or real_interrupt:
                raise
            raise ModelLoadError(
                f"{path.name} failed to import{_where(exc, path)}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            sys.dont_write_bytecode = write_bytecode
    return module


def import_code_files(files: Sequence[Path]) -> list[ModuleType]:
    """Import ``files`` in order; each sees the ones before it by their file names."""
    modules: list[ModuleType] = []
    with _LOCK:
        for path in files:
            with _aliased({_stem_of(m): m for m in modules}.items()):
                modules.append(import_code_file(path))
    return modules


@contextmanager
def code_aliases(modules: Sequence[ModuleType]) -> Iterator[Callable[[str], bool]]:
    """Make ``modules`` reachable the ways a pickle names them, until the block ends.

    Yields ``add_alias(name)``, which maps one more module name to the code (returns
    False when that name cannot be mapped).
    """
    if not modules:
        yield lambda name: False
        return
    with _LOCK:
        by_stem = {_stem_of(m): m for m in modules}
        undo: list[Callable[[], None]] = []
        try:
            for stem, module in by_stem.items():
                undo.append(_set_module(stem, module))
            main = sys.modules.get("__main__")
            if main is not None:
                for name, value in _exports(modules).items():
                    if not hasattr(main, name):
                        undo.append(_lend(main, name, value))

            def add_alias(name: str) -> bool:
                if name in sys.modules or not _unknown(name):
                    return False
                merged = ModuleType(name, f"modelport alias of {[m.__file__ for m in modules]}")
                merged.__dict__.update(_exports(modules))
                merged.__path__ = []  # a package, so 'name.sub' is asked for next
                undo.append(_set_module(name, merged))
                return True

            yield add_alias
        finally:
            for step in reversed(undo):
                step()


def unpickle_with_code(read: Callable[[], T], modules: Sequence[ModuleType]) -> T:
    """Run ``read`` with the code aliased; retry when it names an unknown module."""
    with code_aliases(modules) as add_alias:
        for _ in range(_MAX_RETRIES):
            try:
                return read()
            except ModuleNotFoundError as exc:
                if not exc.name or not add_alias(exc.name):
                    raise
            except AttributeError as exc:
                missing = _missing_attribute(exc, modules)
                if missing is None:
                    raise
                raise missing from exc
        return read()


# -- helpers -----------------------------------------------------------------------------


def _stem_of(module: ModuleType) -> str:
    return Path(module.__file__ or module.__name__).stem


def _exports(modules: Sequence[ModuleType]) -> dict[str, Any]:
    """Public names of the code modules, later files winning (model.py is last)."""
    found: dict[str, Any] = {}
    for module in modules:
        found.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
    return found


def _set_module(name: str, module: ModuleType) -> Callable[[], None]:
    previous = sys.modules.get(name)
    sys.modules[name] = module

    def restore() -> None:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous

    return restore


@contextmanager
def _aliased(items: Any) -> Iterator[None]:
    undo = [_set_module(name, module) for name, module in items]
    try:
        yield
    finally:
        for step in reversed(undo):
            step()


def _lend(module: ModuleType, name: str, value: Any) -> Callable[[], None]:
    setattr(module, name, value)

    def take_back() -> None:
        if getattr(module, name, None) is value:
            delattr(module, name)

    return take_back


def _unknown(name: str) -> bool:
    """True when no installed package provides ``name``'s top-level module."""
    top = name.partition(".")[0]
    if top in sys.modules:
        # 'pkg.sub' below an alias we made (its spec is None) may be aliased too.
        return getattr(sys.modules[top], "__spec__", None) is None and "." in name
    try:
        return importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return False


def _missing_attribute(exc: AttributeError, modules: Sequence[ModuleType]) -> ModelLoadError | None:
    """A clear message when the pickle wants a name the custom code should have defined."""
    names = {"__main__", *(_stem_of(m) for m in modules), *(m.__name__ for m in modules)}
    if not modules or not any(f"module '{name}'" in str(exc) for name in names):
        return None
    files = ", ".join(Path(m.__file__ or "?").name for m in modules)
    return ModelLoadError(f"the artifact needs a name the custom code ({files}) lacks: {exc}")


def _where(exc: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return f" (line {frames[-1].lineno})" if frames else ""


@contextmanager
def module_named(path: Path, name: str) -> Iterator[ModuleType]:
    """Import ``path`` as module ``name`` for the block (training code that pickles its
    classes under that name, as ``from model import X`` in a script would)."""
    with _LOCK:
        previous = sys.modules.get(name)
        module = import_code_file(path, module_name=name)
        try:
            yield module
        finally:
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
