"""Target: the one method every runner adapter has, bench(artifact, request) -> result row."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

AGENT = Path(__file__).with_name("agent.py")


@dataclass(frozen=True)
class BenchRequest:
    eval_npz: Path | None
    threads: int = 1
    warmup: int = 10
    min_runs: int = 100
    min_seconds: float = 1.0
    max_seconds: float = 30.0
    timeout: float = 300.0

    def agent_args(self, model: str, fmt: str, eval_npz: str | None) -> list[str]:
        args = ["--model", model, "--format", fmt, "--threads", str(self.threads), "--warmup", str(self.warmup),
                "--min-runs", str(self.min_runs), "--min-seconds", str(self.min_seconds),
                "--max-seconds", str(self.max_seconds)]
        return args + (["--eval", eval_npz] if eval_npz else [])


class Target(Protocol):
    name: str

    def bench(self, model_path: Path, fmt: str, request: BenchRequest) -> dict: ...


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
