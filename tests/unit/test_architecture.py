"""The package structure itself: no import cycles, the layer contracts hold, ruff is clean."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("pipeline", "targets", "calibration")
PACKAGES = tuple(f"edgeship.{folder}" for folder in FOLDERS)  # the folders install under one namespace


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), imports inside functions included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.find_modules_directly_imported_by(node):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_anywhere():
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    assert len(graph.modules) > 50  # the graph really holds the project
    assert _cycles(graph) == []


def test_targets_and_calibration_import_only_pipeline_core():
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    bad = [(src, dst) for src in graph.modules if src.split(".")[1] in ("targets", "calibration")
           for dst in graph.find_modules_directly_imported_by(src)
           if dst.startswith("edgeship.pipeline.") and not dst.startswith("edgeship.pipeline.core")]
    assert bad == []


def test_import_linter_contracts_hold():
    proc = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "0 broken" in proc.stdout


def test_ruff_is_clean():
    proc = subprocess.run([str(Path(sys.executable).with_name("ruff")), "check", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_no_file_over_300_lines():
    """Source, tests and benchmarks alike: small files with one purpose (the agent travels as one zipapp)."""
    files = [p for folder in (*FOLDERS, "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    long = [f"{p.relative_to(ROOT)}: {n}" for p in files if (n := len(p.read_text().splitlines())) > 300]
    assert long == []


def test_one_namespace_when_installed(tmp_path):
    """Installed, the folders are edgeship.pipeline, .targets, .calibration; nothing named `pipeline` is importable
    from outside the checkout (it would collide with any other package of that name)."""
    code = ("import importlib.util as u, edgeship.pipeline.cli.main, edgeship.targets.base, edgeship.calibration; "
            "print([u.find_spec(n) is None for n in ('pipeline', 'targets', 'calibration')])")
    proc = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[True, True, True]"
