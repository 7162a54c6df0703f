"""Faults: a full disk mid-run, and leftovers of a killed run."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from edgeship.pipeline.cli.main import main
from tests.support.requirements import missing


def folder_bytes(path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs mount point; the test sizes it."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        missing("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_disk_full_is_one_line_and_loses_nothing(tiny_run, small_disk, capsys):
    run_dir = tiny_run[0]
    size_kb = folder_bytes(run_dir) // 1024 * 2 + 4096  # the copy (small files round up to 4 KB) and room
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(small_disk)], check=True)
    copy = small_disk / "run"
    shutil.copytree(run_dir, copy)
    report_before = (copy / "report.json").read_bytes()
    stages_before = sorted(p.name for p in (copy / "stages").iterdir())
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * max(0, free - 64 * 1024))  # leave 64 KB: less than report.html needs

    code = main(["optimize", str(copy / "recipe.yaml"), "--run-dir", str(copy), "--force", "bench"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("edgeship: error: no space left on device") and "finished stages are kept" in err[-1]
    assert sorted(p.name for p in (copy / "stages").iterdir()) == stages_before  # every stage kept
    assert (copy / "report.json").read_bytes() == report_before  # the old report, whole, not half of a new one
    leftovers = [p for p in copy.rglob(".*") if p.name != ".lock"]
    assert leftovers == []

    filler.unlink()  # space again: the same command finishes, reusing every stage
    assert main(["optimize", str(copy / "recipe.yaml"), "--run-dir", str(copy)]) in (0, 1)
    manifest = (copy / "manifest.json").read_text()
    assert '"status": "ok"' not in manifest  # nothing rebuilt


def test_leftovers_of_a_killed_run_are_cleared(tmp_path):
    from edgeship.pipeline.core.infrastructure.stale import clean_stale_temp

    run = tmp_path / "run"
    (run / "stages" / ".tmp-teacher-abc-123").mkdir(parents=True)
    (run / "stages" / "teacher-abc").mkdir()
    (run / "data").mkdir()
    (run / "data" / ".eval-k.npz.4242.npz").write_bytes(b"half")
    (run / ".report.json.77.tmp").write_text("{")
    (run / ".ship.99").mkdir()
    (run / ".lock").write_text("")
    clean_stale_temp(run)
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == [".lock", "data", "stages",
                                                                        "stages/teacher-abc"]
