"""Shared fixtures: a tiny recipe and one tiny optimize run reused by the structural tests."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from edgeship.pipeline.cli.telemetry import opt_out_of_openvino_telemetry
from edgeship.pipeline.config.recipe import parse_recipe
from tests.support import device_prep
from tests.support.recipes import TINY_RECIPE, tiny_recipe_dict  # noqa: F401 (tests import them from here too)

opt_out_of_openvino_telemetry()  # tests call optimize() directly, without the CLI that opts out


def _share_the_cores_between_workers() -> None:
    """Two pytest-xdist workers with torch's default of one thread per core oversubscribe the CPU (OpenMP threads
    spin while they wait): each worker gets its share. Tests that set threads themselves still do."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


_share_the_cores_between_workers()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One full optimize of the tiny recipe (all three formats, fp32 and int8, local bench)."""
    from edgeship.pipeline.engine.optimize import optimize

    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    recipe = parse_recipe(tiny_recipe_dict())
    report = optimize(recipe, run_dir)
    return run_dir, report, recipe


@pytest.fixture
def write_yaml(tmp_path):
    import yaml

    def write(raw, name="recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
        return path

    return write


MARKERS = ("slow", "ssh", "docker", "arm64")


DEVICE_TESTS = Path(__file__).parent / "devices"


def pytest_collection_modifyitems(config, items):
    """A test that needs the end-to-end tiny run is an end-to-end test: `make test-fast` leaves it out.

    The order is the order in which `make test`'s two workers get their units of work (tests/support/xdist_units.py):
    heaviest first. The device tests come first: they wait on downloads (the userlands build in the background),
    so they had better wait while the other worker has the CPU. Then the files with slow tests, then the rest to
    fill the gaps."""
    for item in items:
        if "tiny_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}

    def weight(item) -> int:
        return 0 if _is_device_test(item) else 1 if item.path in slow_files else 2

    items.sort(key=weight)  # stable: collection order within each weight


if importlib.util.find_spec("xdist") is not None:
    def pytest_xdist_make_scheduler(config, log):
        from tests.support.xdist_units import FileUnits

        return FileUnits(config, log)


def _is_device_test(item) -> bool:
    return DEVICE_TESTS in item.path.parents


def pytest_collection_finish(session):
    """The selection is final here (after -m): build the userlands only when a device test will run."""
    if any(_is_device_test(item) for item in session.items):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # each worker may start one; a lock serializes them
        device_prep.start(Path(str(session.config.cache.mkdir("edgeship"))) / f"device-prep-{worker}.log")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """How many tests of each marker passed, failed and skipped: a silent skip of the device tests shows here."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") == "teardown" and outcome != "error":
                continue
            keywords = getattr(report, "keywords", {}) or {}
            marker = next((m for m in MARKERS[1:] if m in keywords), "slow" if "slow" in keywords else "default")
            counts.setdefault(marker, {}).setdefault(outcome, 0)
            counts[marker][outcome] += 1
    if not counts:
        return
    terminalreporter.section("tests by marker")
    for marker in ("default", *MARKERS):
        if marker in counts:
            shown = ", ".join(f"{n} {outcome}" for outcome, n in counts[marker].items())
            skipped = counts[marker].get("skipped", 0)
            warn = "   <-- SKIPPED: see the reasons above (-rs)" if skipped and marker in MARKERS[1:] else ""
            terminalreporter.write_line(f"{marker:>8}: {shown}{warn}")
