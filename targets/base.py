"""Target: bench_many(models, request) -> result rows, and probe(). AgentTarget is that for every transport."""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edgeship.pipeline.core.contracts.formats import model_files, runner_of
from edgeship.pipeline.core.infrastructure.keys import file_sha256
from edgeship.targets.agent_zipapp import agent_zipapp
from edgeship.targets.transport import Session, Transport, TransportError


@dataclass(frozen=True)
class BenchRequest:
    eval_npz: Path | None
    threads: int = 1
    warmup: int = 10
    min_runs: int = 100
    min_seconds: float = 1.0
    max_seconds: float = 30.0
    timeout: float = 300.0
    slowdown: float = 0.0  # injected regression (benchmarks/gate_power.py)
    baseline_model: Path | None = None  # time this one too, interleaved with the model (the CI gate)
    profile: int = 0  # profile per layer over this many runs (0: no profile)
    batch_sizes: tuple[int, ...] = ()  # batch sizes timed after batch 1
    throughput: bool = False  # images/s with parallel requests (OpenVINO)

    def agent_args(self, model: str, fmt: str, eval_npz: str | None, baseline: str | None = None) -> list[str]:
        """The agent's command line; `baseline`: where the device sees the baseline model (default: here)."""
        args = ["--model", model, "--format", runner_of(fmt), "--threads", str(self.threads),
                "--warmup", str(self.warmup), "--min-runs", str(self.min_runs), "--min-seconds", str(self.min_seconds),
                "--max-seconds", str(self.max_seconds)]
        args += ["--slowdown", str(self.slowdown)] if self.slowdown else []
        args += ["--profile", str(self.profile)] if self.profile else []
        args += ["--batch-sizes", ",".join(map(str, self.batch_sizes))] if self.batch_sizes else []
        args += ["--throughput"] if self.throughput else []
        if self.baseline_model:
            args += ["--baseline-model", baseline or str(self.baseline_model)]
        return args + (["--eval", eval_npz] if eval_npz else [])


class Target(Protocol):
    name: str
    emulated: bool

    def bench_many(self, models: list[tuple[Path, str]], request: BenchRequest) -> list[dict]: ...

    def probe(self) -> dict: ...


def checksums(paths: list[Path]) -> str:
    """A SHA256SUMS text (sha256sum -c reads it) naming each file by its base name."""
    return "".join(f"{file_sha256(p)}  {p.name}\n" for p in paths)


BASELINE_PREFIX = "baseline-"


def baseline_copies(request: BenchRequest, fmt: str, folder: Path) -> tuple[list[Path], str | None]:
    """The baseline model's files copied into `folder` under a prefix (the candidate may have the same file
    name; OpenVINO's .xml and .bin keep a common stem), and the baseline's file name there."""
    if request.baseline_model is None:
        return [], None
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for source in model_files(request.baseline_model, fmt):
        copies.append(folder / f"{BASELINE_PREFIX}{source.name}")
        shutil.copyfile(source, copies[-1])
    return copies, copies[0].name


def with_target(result: dict, target: "Target") -> dict:
    """Every result says which target ran it and whether that target was an emulator."""
    return {**result, "target": target.name, "emulated": target.emulated}


def failed(message: str) -> dict:
    return {"status": "failed", "error": message}


def parse_agent_output(stdout: str, stderr: str, returncode: int) -> dict:
    """The agent prints one JSON object on its last line; anything else is a failed row with the reason."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    tail = (stderr.strip().splitlines() or [f"exit code {returncode}"])[-1]
    return failed(f"agent gave no result (exit {returncode}): {tail[:300]}")


class AgentTarget:
    """A target type's adapter: its transport carries the agent and the files; this runs the same steps on all.
    One session per call: the agent and the eval set are pushed once, then each model (and the gate's baseline
    model, under a prefix) before its run."""

    def __init__(self, name: str, transport: Transport):
        self.name, self.transport = name, transport

    @property
    def emulated(self) -> bool:  # a Docker image's architecture is known once its engine was asked
        return self.transport.emulated

    def _row(self, result: dict) -> dict:
        return with_target({**result, **self.transport.details()}, self)

    def bench(self, model: Path, fmt: str, request: BenchRequest) -> dict:
        return self.bench_many([(model, fmt)], request)[0]

    def bench_many(self, models: list[tuple[Path, str]], request: BenchRequest) -> list[dict]:
        results: list[dict] = []
        session: Session | None = None
        try:
            session = self.transport.open()
            session.push([agent_zipapp(), *([request.eval_npz] if request.eval_npz else [])])
            on_device = lambda name: name and f"{session.where}/{name}"  # noqa: E731
            for model, fmt in models:
                try:
                    with tempfile.TemporaryDirectory(prefix="edgeship-baseline-") as tmp:
                        baseline_files, baseline = baseline_copies(request, fmt, Path(tmp))
                        session.push([*model_files(model, fmt), *baseline_files])
                except OSError as err:  # this model's files (a missing companion): its row fails, the rest go on
                    results.append(self._row(failed(f"target {self.name}: cannot push {model.name}: {err}")))
                    continue
                eval_name = request.eval_npz.name if request.eval_npz else None
                args = request.agent_args(on_device(model.name), fmt, on_device(eval_name), on_device(baseline))
                results.append(self._row(session.run(args, request.timeout)))
        except TransportError as err:
            results += [self._row(failed(f"target {self.name}: {err}"))] * (len(models) - len(results))
        finally:
            if session is not None:
                session.close()
        return results

    def probe(self, timeout: float = 120.0) -> dict:
        session: Session | None = None
        try:
            session = self.transport.open()
            session.push([agent_zipapp()])
            return self._row(session.run(["--probe", session.probe_dir], timeout))
        except TransportError as err:
            return self._row(failed(f"target {self.name}: {err}"))
        finally:
            if session is not None:
                session.close()
