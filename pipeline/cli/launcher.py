"""`--nproc N`: the same command in N training processes on this machine, started by torchrun's own launcher
(the elastic agent, in this process). Rank 0 locks and writes the run folder and goes on alone after training;
the other ranks train along in a private folder. A multi-node job starts the same command with torchrun."""
from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from edgeship.pipeline.cli.output import EXIT_FAILED
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError, one_line
from edgeship.pipeline.core.infrastructure.progress import stderr_console

LAUNCHED_BY_NPROC = "EDGESHIP_NPROC_LAUNCH"
PEER_LOSS_GRACE_S = 3.0


def _stopped_by_launcher(signum, frame):
    raise SystemExit(128 + signum)


def run_rank(main, argv: list[str]) -> int:
    """What each process started by `launch` runs: the edgeship command itself (`main`, passed in so that this
    module needs no import of the CLI that calls it). A rank that stops with an error exits at once (a
    returning rank would wait for the others, which may wait for it in a collective), so the launcher stops
    the rest. The launcher stops the other ranks with SIGTERM: it becomes an exception here, so a stage being
    built removes its temp folder on the way out instead of leaving it half-written."""
    signal.signal(signal.SIGTERM, _stopped_by_launcher)
    code = main(argv)
    if code:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def run_on_ranks(fn, args: tuple, nproc: int, log_dir: Path) -> dict[int, object]:
    """fn(*args) in nproc processes of this machine, as `torchrun --standalone --nproc-per-node N` starts them
    (a rendezvous on a free local port); their return values by rank. Rank 0 talks to the user; the others'
    output goes to log_dir, for when they fail."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    for name in ("torch.distributed.elastic", "torch.multiprocessing"):  # the ranks say what went wrong
        logging.getLogger(name).setLevel(logging.CRITICAL)
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
                          logs_specs=DefaultLogsSpecs(log_dir=str(log_dir),
                                                      redirects={r: Std.ALL for r in range(1, nproc)}))
    return elastic_launch(config, fn)(*args)


def launch(main, argv: list[str], nproc: int) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    os.environ[LAUNCHED_BY_NPROC] = "1"  # the ranks inherit it
    with tempfile.TemporaryDirectory(prefix="edgeship-torchrun-") as logs:
        try:
            codes = run_on_ranks(run_rank, (main, argv), nproc, Path(logs))
        except ChildFailedError as err:
            return _first_failure(err, Path(logs), nproc)
    return max(codes.values())  # all 0: a rank that fails exits at once (run_rank)


def _first_failure(err, logs: Path, nproc: int) -> int:
    """The rank that failed first is the cause (the others lost their peers): its one-line error (rank 0
    printed its own; the others' is in their log) and its exit code."""
    rank, failure = err.get_first_failure()
    if failure.exitcode < 0:
        raise EdgeshipError(f"--nproc {nproc}: training process rank {rank} died (signal "
                            f"{failure.signal_name()}); finished stages are kept")
    if rank != 0:
        lines = [line for log in logs.glob(f"*/attempt_*/{rank}/stderr.log")
                 for line in log.read_text(errors="replace").splitlines() if line.startswith("edgeship: error:")]
        print(lines[-1] if lines else f"edgeship: error: training rank {rank} exited with code {failure.exitcode}",
              file=sys.stderr)
    return failure.exitcode


def follow(recipe, force: set[str], train_part) -> None:
    """A rank other than 0: train together with rank 0 in a private folder; the run folder is rank 0's alone."""
    from edgeship.pipeline.engine.flow import open_run

    with tempfile.TemporaryDirectory(prefix="edgeship-rank") as scratch:
        train_part(open_run(recipe, Path(scratch), force, stderr_console(quiet=True), publish=False))


def failed_rank(err: Exception) -> int:
    """An error inside a distributed run: one line from the rank that has something to say. A rank that only
    lost a peer is not the cause: under `--nproc` it stays silent and waits a moment, so that the launcher
    sees (and names) the rank that failed first; under a torchrun of the user's, rank 0 says it lost a peer."""
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    first = one_line(err)
    # Gloo reports a vanished peer as DistError, or as a plain RuntimeError from its transport ("gloo/...").
    lost_peer = isinstance(err, dist.DistError) or "gloo" in str(err)
    if not lost_peer:
        print(f"edgeship: error: training rank {rank}: {first}", file=sys.stderr)
    elif os.environ.get(LAUNCHED_BY_NPROC):
        time.sleep(PEER_LOSS_GRACE_S)
    elif rank == 0:
        print(f"edgeship: error: training rank 0 lost another rank (see its log): {first}", file=sys.stderr)
    return EXIT_FAILED
