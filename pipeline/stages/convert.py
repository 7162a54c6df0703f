"""export and quantize: one stage body for every format in the format table."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from edgeship.pipeline.core.contracts.artifact import Artifact
from edgeship.pipeline.core.contracts.formats import format_named
from edgeship.pipeline.core.contracts.stage_graph import StageId
from edgeship.pipeline.core.contracts.stage_graph import quantized as quantized_id
from edgeship.pipeline.core.contracts.tasks import task_named
from edgeship.pipeline.core.infrastructure.logs import output_to
from edgeship.pipeline.formats.int8_budget import output_module_names, quantize_within_budget
from edgeship.pipeline.formats.parity import check_parity, require_parity
from edgeship.pipeline.models.torch_artifact import example_input, input_spec, load_torch_model
from edgeship.pipeline.stages.context import Context
from edgeship.pipeline.stages.inputs import StageInputs


def _parity_inputs(ctx: Context):
    return ctx.data.test.sample(ctx.recipe.export.parity_samples).inputs()


def export(src: Artifact, sid: StageId, out: Path, ctx: Context, key: str) -> Artifact:
    """`src` in `sid.format` at fp32 (stage `sid`), its outputs checked against torch."""
    fmt = sid.format
    backend = format_named(fmt)
    model = load_torch_model(src)
    with output_to(out / "log.txt"):
        name = backend.export(model, example_input(src.preprocessing), out, ctx.recipe.export.opset)
    parity = check_parity(model, fmt, out / name, _parity_inputs(ctx), task_named(ctx.recipe.task))
    require_parity(parity, fmt, ctx.recipe.export.min_agreement)
    return Artifact.made(sid, folder=out, file=name, key=key, parent=src.key,
                         inputs=[input_spec(src.preprocessing, "input")],
                         preprocessing=src.preprocessing, labels=src.labels, arch=src.arch,
                         metrics={"macs": src.metrics.get("macs"), "params": src.metrics.get("params"),
                                  "parity": parity})


def quantize(inputs: StageInputs, out: Path, ctx: Context, key: str) -> Artifact:
    """The exported `inputs.parent` at int8 with `inputs.calibration`; `inputs.torch_model` for fallback and parity."""
    src, calibration = inputs.parent, inputs.calibration
    fmt = src.format
    backend = format_named(fmt)
    model = load_torch_model(inputs.torch_model)
    qcfg = ctx.recipe.quantize
    val_inputs, val_targets = ctx.data.val.sample(qcfg.validation_samples).inputs_and_targets()
    task = task_named(ctx.recipe.task)
    score = partial(task.score_on_host, num_classes=ctx.data.num_classes) if task.score_on_host else None
    keep = qcfg.float_outputs == "yes" or (qcfg.float_outputs == "auto" and task.float_outputs)
    with output_to(out / "log.txt"):
        outcome = quantize_within_budget(backend, fmt, src.path, model, example_input(src.preprocessing),
                                         calibration, out, qcfg, val_inputs, val_targets, task.device_metric, score,
                                         output_module_names(model) if keep else [])
    name = outcome.file
    quantized = backend.quantized_ops(out / name)
    if not quantized:
        raise RuntimeError(f"{fmt} int8 model has no quantized ops: the quantizer did nothing")
    parity = check_parity(model, fmt, out / name, _parity_inputs(ctx), task_named(ctx.recipe.task))
    return Artifact.made(quantized_id(fmt), folder=out, file=name, key=key, parent=src.key,
                         inputs=[input_spec(src.preprocessing, "input", backend.int8_input_dtype)],
                         preprocessing=src.preprocessing, labels=src.labels, arch=src.arch,
                         metrics={"macs": src.metrics.get("macs"), "params": src.metrics.get("params"),
                                  "parity": parity, "quantized_ops": quantized, "int8": outcome.as_dict(),
                                  "calibration": {"key": calibration.key, "samples": len(calibration),
                                                  "method": qcfg.calibration.method, "preset": qcfg.preset}})
