"""The code blocks of the README and the docs that the tests run.

A block runs only when an HTML comment right before it says so (invisible on GitHub and
on the site):

- ``<!-- run -->`` before a ``bash`` block: run with ``bash -euo pipefail`` against a real
  server (``127.0.0.1:8000`` means that server, ``127.0.0.1:8001`` its gRPC port);
- ``<!-- run -->`` before a ``python`` block: run in a subprocess, against the same server;
- ``<!-- run: before-server -->``: run before the server starts (e.g. a training script
  that writes a model into ``models/``);
- ``<!-- file: PATH -->`` before any block: its text is written to ``PATH`` (relative to
  the folder the server runs in) before the server starts.

A comment ``# => TEXT`` in a run block is an expected output: the block's standard output
must show each one, in order; ``...`` in ``TEXT`` stands for anything.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = [
    "ROOT",
    "RUN_LANGUAGES",
    "Block",
    "MarkerError",
    "documents",
    "expectation_regex",
    "find_blocks",
    "internal_words",
]

ROOT = Path(__file__).resolve().parent.parent.parent
RUN_LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}

_MARKER = re.compile(
    r"^\s*<!--\s*(?P<what>run(?::\s*before-server)?|file:\s*(?P<path>\S+))\s*-->\s*$"
)
_ANY_MARKER = re.compile(r"^\s*<!--\s*(?:run|file)\b")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_EXPECT = re.compile(r"#\s=>\s?(?P<text>.*)$")


class MarkerError(ValueError):
    """A run/file marker that is not followed by a fenced block."""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    kind: str  # "run", "before-server" or "file"
    language: str
    code: str
    target: str | None = None  # the file a "file" block is written to
    expected: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def find_blocks(path: Path) -> list[Block]:
    """Every marked block of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _MARKER.match(lines[i])
        if match is None:
            if _ANY_MARKER.match(lines[i]):
                raise MarkerError(f"{path}:{i + 1}: unknown marker {lines[i].strip()!r}")
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        fence = _FENCE.match(lines[j]) if j < len(lines) else None
        if fence is None:
            raise MarkerError(f"{path}:{i + 1}: a marker must be followed by a fenced block")
        start = j
        j += 1
        body: list[str] = []
        closing = fence["indent"] + fence["fence"]
        while j < len(lines) and lines[j].rstrip() != closing:
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise MarkerError(f"{path}:{start + 1}: the fenced block never closes")
        code = textwrap.dedent("\n".join(body)) + "\n"
        language = (fence["info"].split() or [""])[0].lower()
        what = match["what"]
        kind = "file" if what.startswith("file") else ("before-server" if ":" in what else "run")
        if kind != "file" and language not in RUN_LANGUAGES:
            raise MarkerError(
                f"{path}:{start + 1}: cannot run a '{language}' block; "
                f"mark only {sorted(RUN_LANGUAGES)} blocks"
            )
        expected = [m["text"].strip() for m in map(_EXPECT.search, code.splitlines()) if m]
        blocks.append(Block(path, start + 1, kind, language, code, match["path"], expected))
        i = j + 1
    return blocks


def documents() -> list[Path]:
    """README.md, then the docs pages in the site's navigation order."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            pages.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(config["nav"])
    docs = ROOT / config.get("docs_dir", "docs")
    return [ROOT / "README.md", *(docs / page for page in pages)]


def expectation_regex(expected: str) -> re.Pattern[str]:
    """``# => TEXT`` as a pattern: the text itself, with ``...`` standing for anything."""
    return re.compile(".*?".join(re.escape(part) for part in expected.split("...")), re.DOTALL)


#: Words that belong to the project's own history, not to a user's documentation.
_INTERNAL = [
    (re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE), "an issue number"),
    (re.compile(r"(?<!random )\bseeds?\b(?!\s*=)", re.IGNORECASE), "the word 'seed'"),
    (re.compile(r"DESIGN\.md"), "DESIGN.md"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b"), "a commit hash"),
    (re.compile(r"\bwave \d\b", re.IGNORECASE), "a work wave"),
]


def internal_words(text: str) -> list[tuple[int, str, str]]:
    """(line, what, the line) for every project-internal word in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, what in _INTERNAL:
            if pattern.search(line):
                found.append((number, what, line.strip()))
    return found
