"""``make audit``: known vulnerabilities in the installed environment, found by pip-audit.

Every vulnerability found is reported. The audit fails (exit 1) only on one that has a
fixed version *and* is in a runtime dependency of modelport: its core requirements and
its runtime extras (not ``dev`` or ``docs``), with everything they pull in.

Why that rule: the brief is "fail on a known-exploited vulnerability with a fix", and
pip-audit cannot say which are exploited (that is CISA's KEV catalogue, a list of CVEs
outside the Python advisory databases, and it changes daily). Its practical stand-ins:

- *a fix exists*: then failing asks for something doable, an upgrade. A vulnerability
  without one would block every change until upstream ships, with nothing to do here;
  it is reported for a human to weigh (and perhaps to avoid the affected feature).
- *a runtime dependency*: that code ships to every user and runs while serving, where
  an attacker can reach it. Dev-only tools (pytest, mypy, mkdocs, pip-audit itself and
  what they pull in) never run in a deployment: reported, not failed.

An audit that cannot reach the vulnerability database (no network, DNS, a proxy, the
service down, or a mirror that lacks its JSON API so nothing is found) is reported as
*not audited* and exits 0: CI should not fail on an outage. Any other failure of the tool
exits 2, so that a broken audit is seen rather than silently passing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["Finding", "audit", "findings", "is_network_failure", "main", "runtime_packages"]

PROJECT = "modelport"
#: Extras that are tools for working on modelport, not part of what it runs.
DEV_EXTRAS = frozenset({"dev", "docs"})
#: Runtime requirements the dev environment satisfies under another name (pyproject's dev
#: extra installs XGBoost's CPU-only wheel: the same `xgboost` module).
INSTALLED_AS = {"xgboost": "xgboost-cpu"}
#: Signs, in pip-audit's error output, that the database could not be reached.
NETWORK_ERRORS = (
    "requests.exceptions.",
    "urllib3.exceptions.",
    "ConnectionError",
    "TimeoutError",
    "NameResolutionError",
    "ServiceError",
)
#: The whole run's bound, for a database that answers too slowly to be of use.
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    vuln_id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]
    runtime: bool

    @property
    def fails(self) -> bool:
        return self.runtime and bool(self.fix_versions)


def runtime_packages(project: str = PROJECT) -> set[str]:
    """Canonical names of the installed packages that ``project`` needs at run time."""
    extras = set(metadata.metadata(project).get_all("Provides-Extra") or []) - DEV_EXTRAS
    found: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [(project, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        dist = _installed(name)
        if dist is None:  # not installed here, so nothing of it to audit
            continue
        found.add(canonicalize_name(dist.metadata["Name"]))
        for text in dist.requires or []:
            requirement = Requirement(text)
            if _needed(requirement, wanted):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    found.discard(canonicalize_name(project))
    return found


def _installed(name: str) -> metadata.Distribution | None:
    for candidate in (name, INSTALLED_AS.get(name)):
        if candidate is None:
            continue
        try:
            return metadata.distribution(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None


def _needed(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (*extras, ""))


def findings(report: dict[str, Any], runtime: set[str]) -> list[Finding]:
    """Every vulnerability in pip-audit's JSON report, runtime or not."""
    return [
        Finding(
            package=dep["name"],
            version=dep.get("version", "?"),
            vuln_id=vuln["id"],
            aliases=tuple(vuln.get("aliases", ())),
            fix_versions=tuple(vuln.get("fix_versions", ())),
            runtime=canonicalize_name(dep["name"]) in runtime,
        )
        for dep in report.get("dependencies", [])
        for vuln in dep.get("vulns", [])
    ]


def is_network_failure(stderr: str) -> bool:
    return any(sign in stderr for sign in NETWORK_ERRORS)


def audit(report: dict[str, Any], runtime: set[str]) -> tuple[int, list[str]]:
    """The exit status and the report's lines for pip-audit's JSON ``report``."""
    found = findings(report, runtime)
    deps = report.get("dependencies", [])
    skipped = sorted(canonicalize_name(d["name"]) for d in deps if "skip_reason" in d)
    lines = [
        f"audit: {len(deps)} installed packages ({len(runtime)} runtime dependencies of "
        f"{PROJECT}), {len(found)} known vulnerabilities"
    ]
    for item in sorted(found, key=lambda f: (not f.fails, f.package, f.vuln_id)):
        kind = "runtime" if item.runtime else "dev-only"
        fix = ", ".join(item.fix_versions) or "no fix yet"
        aliases = f" ({', '.join(item.aliases)})" if item.aliases else ""
        verdict = "FAIL" if item.fails else "report"
        lines.append(
            f"  {verdict:6} {item.package} {item.version} [{kind}] {item.vuln_id}{aliases}; "
            f"fixed in: {fix}"
        )
    unaudited = sorted(runtime & set(skipped))
    if unaudited:
        lines.append(
            f"audit: NOT AUDITED, the vulnerability service knew nothing of {len(unaudited)} "
            f"of {len(runtime)} runtime dependencies (an outage, or a package index without "
            f"PyPI's JSON API?): {', '.join(unaudited)}"
        )
    failing = [f for f in found if f.fails]
    if failing:
        lines.append(
            f"audit: FAILED: {len(failing)} fixable vulnerabilities in runtime dependencies; "
            "raise their lower bounds in pyproject.toml (or upgrade them)"
        )
        return 1, lines
    if unaudited:
        lines.append("audit: not failed, but not complete either (see above)")
    else:
        lines.append("audit: passed (nothing fixable in a runtime dependency)")
    return 0, lines


def run_pip_audit() -> tuple[dict[str, Any] | None, str]:
    """pip-audit's JSON report on this interpreter's environment, or None and why not."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--local",
            "--skip-editable",  # modelport itself: a PyPI project of that name is not us
            "--progress-spinner=off",
            "--aliases=on",
            "--desc=off",
            "--timeout=30",
            "--format=json",
            f"--output={output}",
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            return None, f"pip-audit took longer than {RUN_TIMEOUT_S} s (TimeoutError)"
        # Exit 1 means "vulnerabilities found" as well as "crashed": the report tells.
        if output.is_file():
            return json.loads(output.read_text()), done.stderr
        return None, done.stderr or done.stdout


def main() -> int:
    report, stderr = run_pip_audit()
    if report is None:
        tail = "\n".join(stderr.strip().splitlines()[-3:])
        if is_network_failure(stderr):
            print(f"audit: NOT AUDITED, the vulnerability database was unreachable:\n{tail}")
            return 0
        print(f"audit: pip-audit failed:\n{stderr}", file=sys.stderr)
        return 2
    status, lines = audit(report, runtime_packages())
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
