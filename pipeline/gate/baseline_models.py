"""The baseline's models, so that any target can time baseline and candidate interleaved in one agent.

`edgeship baseline update` copies each row's model files into a folder beside the baseline file
(edgeship-baseline.json -> edgeship-baseline.models/<stage>-<key>/) and records, per row, the path relative to
the baseline file and the model's SHA-256. A run folder used as the baseline has its models already.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.formats import model_files
from edgeship.pipeline.core.contracts.results import ResultRow
from edgeship.pipeline.core.infrastructure.atomic import write_folder_atomic
from edgeship.pipeline.core.infrastructure.keys import file_sha256


@dataclass(frozen=True)
class BaselineModel:
    """The baseline model of one row, or why there is none to time (`path` None, `missing` says why).
    `declared`: the baseline promised a model (a checksum), so its absence is an error, not an old file."""

    path: Path | None
    format: str | None
    missing: str = ""
    declared: bool = False


def models_folder(baseline_file: Path) -> Path:
    return baseline_file.with_suffix(".models")


def stage_artifact(run_dir: Path, row: ResultRow | dict) -> Artifact | None:
    """The artifact behind a row (a ResultRow, or a row of a baseline file being written)."""
    row = row.to_dict() if isinstance(row, ResultRow) else row
    folder = Path(run_dir) / "stages" / f"{row.get('stage')}-{row.get('artifact_key')}"
    return Artifact.read(folder) if (folder / "artifact.json").is_file() else None


def copy_models(rows: list[dict], run_dir: Path | None, baseline_file: Path) -> list[dict]:
    """The rows with model_file and model_sha256 added where the run folder has the row's model; the models are
    copied into the baseline's models folder, which replaces any earlier one whole."""
    if run_dir is None:
        return rows
    found = {id(r): a for r in rows if r.get("status") == "ok" and (a := stage_artifact(run_dir, r)) is not None}

    def fill(tmp: Path) -> None:
        for artifact in {a.folder: a for a in found.values()}.values():
            (tmp / artifact.folder.name).mkdir()
            for file in model_files(artifact.path, artifact.format):
                shutil.copyfile(file, tmp / artifact.folder.name / file.name)

    folder = models_folder(baseline_file)
    write_folder_atomic(folder, fill)
    out = []
    for row in rows:
        artifact = found.get(id(row))
        if artifact is not None:
            copy = folder / artifact.folder.name / artifact.path.name
            row = {**row, "model_file": str(copy.relative_to(baseline_file.parent)),
                   "model_sha256": file_sha256(copy)}
        out.append(row)
    return out


def baseline_model(source: Path, row: ResultRow) -> BaselineModel:
    """The row's baseline model from a run folder or a baseline file (checked against its recorded SHA-256)."""
    if source.is_dir():
        artifact = stage_artifact(source, row)
        if artifact is None:
            return BaselineModel(None, None, f"the baseline run folder {source} no longer has {row.stage}")
        return BaselineModel(artifact.path, artifact.format)
    model_file, model_sha256 = row.extra.get("model_file"), row.extra.get("model_sha256")
    if not model_file:
        return BaselineModel(None, None, f"{source.name} holds no baseline models (written by an older edgeship "
                                         f"or from a report.json): run 'edgeship baseline update' again")
    path = source.parent / model_file
    if not path.is_file():
        return BaselineModel(None, None, f"baseline model {path} is missing", declared=True)
    if file_sha256(path) != model_sha256:
        return BaselineModel(None, None, f"baseline model {path} changed since 'edgeship baseline update' "
                                         f"(SHA-256 differs)", declared=True)
    return BaselineModel(path, row.format)
