"""`edgeship optimize --nproc 2` and a two-node torchrun launch, end to end on this CPU (gloo)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeship.pipeline.core.infrastructure.runlock import run_lock
from tests.support.recipes import tiny_recipe_dict

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NPROC_TOLERANCE_POINTS = 3.0  # README, "Running at scale": 1 and N processes agree within 3 points


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The repository importable from any folder, and a private TMPDIR to find what ranks leave behind."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}


def edgeship(*args, tmp_path: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "edgeship"), *map(str, args)], capture_output=True, text=True,
                          env=cli_env(tmp_path), timeout=timeout, cwd=tmp_path)


def stage_metrics(run_dir: Path) -> dict[str, dict]:
    return {p.name.rsplit("-", 1)[0]: json.loads((p / "artifact.json").read_text())["metrics"]
            for p in (run_dir / "stages").iterdir()}


def no_leftovers(tmp_path: Path) -> list[str]:
    """edgeship's temp folders left in TMPDIR (torchrun's own torchelastic_* log folders are torchrun's)."""
    return [p.name for p in (tmp_path / "tmp").iterdir() if p.name.startswith("edgeship")]


@pytest.mark.slow
def test_optimize_on_two_processes_matches_one(tiny_run, tmp_path, write_yaml):
    single_dir = tiny_run[0]
    run_dir = tmp_path / "run"
    done = edgeship("optimize", write_yaml(tiny_recipe_dict()), "--run-dir", run_dir, "--nproc", "2",
                    tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and done.stderr.count("data: digits") == 1  # rank 1 says nothing
    assert "edgeship: tiny" in done.stdout  # rank 0 printed the results table
    # Same stages under the same keys, and the same files: rank 0 wrote the run folder as one process would.
    assert sorted(p.name for p in (run_dir / "stages").iterdir()) == sorted(
        p.name for p in (single_dir / "stages").iterdir())
    visible = lambda root: sorted(p.name for p in root.iterdir() if not p.name.startswith("."))  # noqa: E731
    assert visible(run_dir) == visible(single_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert len(manifest) == len({s["name"] for s in manifest}) and {s["status"] for s in manifest} == {"ok"}
    two, one = stage_metrics(run_dir), stage_metrics(single_dir)
    # Pruning picks channels: a student that differs by float rounding may lose another of two near-tied ones
    # (2 processes pruned a KD student of equal test accuracy 3.6 points lower). So the pruned stage is compared
    # where both prune the same student: the single run's, pruned again on 2 processes.
    again = tmp_path / "pruned-again"
    shutil.copytree(single_dir, again)
    done = edgeship("optimize", write_yaml(tiny_recipe_dict()), "--run-dir", again, "--nproc", "2", "--force",
                    "pruned", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    two["pruned"] = stage_metrics(again)["pruned"]
    for stage in ("teacher", "student-scratch", "student-kd", "pruned"):
        assert two[stage]["world_size"] == 2 and one[stage]["world_size"] == 1
        # The README's promise: the same training up to float rounding, which moves at most a few test images.
        gap = abs(two[stage]["test_accuracy"] - one[stage]["test_accuracy"])
        print(f"{stage}: 1 process {one[stage]['test_accuracy']:.2f}, 2 processes {two[stage]['test_accuracy']:.2f}")
        assert gap <= NPROC_TOLERANCE_POINTS, (stage, one[stage]["test_accuracy"], two[stage]["test_accuracy"])
    assert no_leftovers(tmp_path) == []  # the other rank's private folders are gone


@pytest.mark.slow
def test_a_detector_distills_on_two_processes_with_augmented_boxes(tmp_path, write_yaml):
    """Box targets (a list per image) through the distributed sampler, crops and flips per image, the live
    teacher's head under head-kd, and mAP on rank 0."""
    recipe = {"name": "det", "task": "detection", "seed": 0,
              "data": {"source": "objects", "image_size": 64, "channels": 1, "mean": [0.2], "std": [0.3],
                       "scenes": {"count": 200}},
              "teacher": {"arch": "fcos_tiny", "args": {"width": 8},
                          "train": {"epochs": 1, "lr": 0.002, "optimizer": "adam"}},
              "student": {"arch": "fcos_tiny", "args": {"width": 4},
                          "train": {"epochs": 1, "lr": 0.002, "optimizer": "adam", "augment": True, "hflip": True}},
              "distill": {"method": "head-kd", "baseline": False, "unfit_teacher": "distill"}}
    run_dir = tmp_path / "run"
    done = edgeship("distill", write_yaml(recipe), "--run-dir", run_dir, "--nproc", "2", tmp_path=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    student = stage_metrics(run_dir)["student-kd"]
    assert student["world_size"] == 2 and student["teacher_logits"] == "live" and student["method"] == "head-kd"
    assert 0.0 <= student["test_accuracy"] <= 100.0 and no_leftovers(tmp_path) == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_with_torchrun_need_no_shared_disk(tmp_path, write_yaml):
    """The README's multi-node line, with two 'nodes' on this machine in two folders: rank 0's node gets the
    run folder; the other node trains along and writes nothing."""
    recipe = write_yaml(tiny_recipe_dict(**{"student.train.epochs": 3, "distill.baseline": False}))
    port, nodes = free_port(), [tmp_path / "node0", tmp_path / "node1"]
    procs = []
    for rank, node in enumerate(nodes):
        node.mkdir()
        procs.append(subprocess.Popen(
            [str(BIN / "torchrun"), "--nnodes", "2", "--node-rank", str(rank), "--nproc-per-node", "1",
             "--master-addr", "127.0.0.1", "--master-port", str(port),
             "--no-python", str(BIN / "edgeship"), "distill", str(recipe), "--run-dir", "runs/tiny"],
            cwd=node, env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outputs]
    assert "edgeship distill: tiny" in outputs[0][0] and outputs[1][0] == ""
    assert sorted(p.name.rsplit("-", 1)[0] for p in (nodes[0] / "runs/tiny/stages").iterdir()) == [
        "student-kd", "teacher"]
    assert not (nodes[1] / "runs").exists()
    assert no_leftovers(tmp_path) == []


def rank_pid(parent: int, rank: int) -> int | None:
    """The process of local `rank` among the workers the launcher in `parent` spawned (in rank order; their
    RANK is set after the start, so /proc's environ does not show it)."""
    workers = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if proc.name.isdigit() and int(stat[1]) == parent and b"spawn_main" in (proc / "cmdline").read_bytes():
                workers.append((int(stat[19]), int(proc.name)))  # start time, pid
        except (OSError, ValueError):
            continue
    workers.sort()
    return workers[rank][1] if len(workers) > rank else None


@pytest.mark.slow
def test_a_rank_killed_mid_training_is_one_line_and_keeps_finished_stages(tmp_path, write_yaml):
    # A student that cannot finish before the kill lands, however slow or fast this machine is.
    recipe = write_yaml(tiny_recipe_dict(**{"student.train.epochs": 10_000}))
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([str(BIN / "edgeship"), "distill", str(recipe), "--run-dir", str(run_dir), "--nproc",
                             "2"], env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list((run_dir / "stages").glob("teacher-*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    victim = rank_pid(proc.pid, 1)
    assert victim is not None, "rank 1 not found"
    os.kill(victim, signal.SIGKILL)  # while both ranks train the scratch student
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err[-2000:]
    assert err.strip().splitlines()[-1] == ("edgeship: error: --nproc 2: training process rank 1 died (signal "
                                            "SIGKILL); finished stages are kept")
    assert "Traceback" not in err
    assert [p.name.rsplit("-", 1)[0] for p in (run_dir / "stages").iterdir()] == ["teacher"]
    # The same command again reuses the teacher (two processes again, fewer epochs so it ends soon).
    again = edgeship("distill", write_yaml(tiny_recipe_dict(**{"student.train.epochs": 1}), "short.yaml"),
                     "--run-dir", run_dir, "--nproc", "2", tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "reused" in again.stderr.split("student-scratch")[0]


@pytest.mark.slow  # a torchrun launch (about 5 s)
def test_a_locked_run_folder_is_refused_by_rank_0_without_hanging(tmp_path, write_yaml):
    run_dir = tmp_path / "run"
    with run_lock(run_dir):
        done = edgeship("distill", write_yaml(tiny_recipe_dict()), "--run-dir", run_dir, "--nproc", "2",
                        tmp_path=tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"edgeship: error: {run_dir}: another edgeship optimize is running on this run folder"]
    assert not (run_dir / "stages").exists()


@pytest.mark.slow  # a CLI process each (about 2 s)
@pytest.mark.parametrize("nproc", ["0", "two", "-1"])
def test_nproc_must_be_a_positive_whole_number(nproc, tmp_path, write_yaml):
    done = edgeship("optimize", write_yaml(tiny_recipe_dict()), "--nproc", nproc, tmp_path=tmp_path, timeout=60)
    assert done.returncode == 2 and "--nproc" in done.stderr.splitlines()[-1]
