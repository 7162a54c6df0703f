"""The bad-input matrix: each case a command a user might type with something wrong in it, and the words its
one-line error must contain. Used by tests/integration/test_bad_inputs.py and printed by benchmarks/faults.py.

Every case must end with exit code 2, exactly one line on stderr that names the field, file or host, no
traceback, and nothing half-written left behind.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from tests.support.box_layouts import DETECTION_RECIPE, broken_boxes
from tests.support.checkpoints import onnx_teacher, pickle_with_code, resnet18_weights, wrong_class_count_checkpoint
from tests.support.segfolders import SEGMENTATION_RECIPE, broken_segfolder

BASE = {"name": "bad", "teacher": {"arch": "cifar_resnet8", "args": {"width": 4}, "train": {"epochs": 1}},
        "student": {"arch": "simple_cnn", "args": {"width": 4}, "train": {"epochs": 1}},
        "data": {"source": "digits", "limit_train": 200}}


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], list[str]]  # makes the files it needs in the folder, returns the argv
    expect: str


def recipe(folder: Path, **changes) -> str:
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    for dotted, value in changes.items():
        node, *path = raw, *dotted.split(".")
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def optimize_in(folder: Path, preset: dict, source: str, **changes) -> list[str]:
    """`optimize` of a task's preset recipe (segmentation, detection) on `source`, run in `folder`."""
    return ["optimize", recipe(folder, **{**preset, "data.source": source, **changes}),
            "--run-dir", str(folder / "run")]


def segmentation(folder: Path, source: str, **changes) -> list[str]:
    return optimize_in(folder, SEGMENTATION_RECIPE, source, **changes)


def detection(folder: Path, source: str, **changes) -> list[str]:
    return optimize_in(folder, DETECTION_RECIPE, source, **changes)


def text_file(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def optimize(**changes) -> Callable[[Path], list[str]]:
    return lambda d: ["optimize", recipe(d, **changes), "--run-dir", str(d / "run")]


def empty_imagefolder(folder: Path) -> str:
    (folder / "images" / "train").mkdir(parents=True)
    return f"imagefolder:{folder / 'images'}"


def corrupt_imagefolder(folder: Path) -> str:
    for label in ("cat", "dog"):
        (folder / "images" / "train" / label).mkdir(parents=True)
        (folder / "images" / "train" / label / "broken.png").write_bytes(b"not a png")
    return f"imagefolder:{folder / 'images'}"


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def mostly_good_imagefolder(folder: Path) -> str:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (folder / "images" / "train" / label).mkdir(parents=True)
        for i in range(20):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / "images" / "train" / label
                                                                                / f"{i}.png")
    (folder / "images" / "train" / "dog" / "broken.png").write_bytes(b"not a png either")
    return f"imagefolder:{folder / 'images'}"


CASES = [
    Case("recipe file missing", lambda d: ["optimize", str(d / "nope.yaml")], "recipe file not found"),
    Case("malformed YAML", lambda d: ["optimize", text_file(d, "r.yaml", "name: [unclosed\n")], "malformed YAML"),
    Case("recipe is a list", lambda d: ["optimize", text_file(d, "r.yaml", "- 1\n- 2\n")], "must be a mapping"),
    Case("empty recipe", lambda d: ["optimize", text_file(d, "r.yaml", "")], "must be a mapping"),
    Case("unknown top-level key", optimize(shipit=True), "field 'shipit': unknown key"),
    Case("unknown nested key", optimize(**{"teacher.trian": {}}), "field 'teacher.trian': unknown key"),
    Case("wrong type", optimize(**{"student.train.epochs": "ten"}), "student.train.epochs"),
    Case("prune ratio 1.5", optimize(**{"prune.ratio": 1.5}), "prune.ratio"),
    Case("temperature 0", optimize(**{"distill.temperature": 0}), "distill.temperature"),
    Case("unknown scheme", optimize(**{"distill.scheme": "offlne"}), "distill.scheme"),
    Case("online scheme with a feature method", optimize(**{"distill.scheme": "online", "distill.method": "at"}),
         "distill.scheme online"),
    Case("self scheme without the scratch student", optimize(**{"distill.scheme": "self", "distill.baseline": False}),
         "distill.scheme self"),
    Case("negative accuracy budget", optimize(**{"quantize.max_accuracy_drop": -1}), "quantize.max_accuracy_drop"),
    Case("image size 2", optimize(**{"data.image_size": 2}), "data.image_size"),
    Case("run name with ../", optimize(name="../escape"), "field 'name'"),
    Case("unknown data source", optimize(**{"data.source": "ftp://x"}), "data.source"),
    Case("missing dataset folder", lambda d: ["optimize", recipe(d, **{"data.source": f"imagefolder:{d / 'none'}"}),
                                              "--run-dir", str(d / "run")], "none"),
    Case("empty dataset folder", lambda d: ["optimize", recipe(d, **{"data.source": empty_imagefolder(d)}),
                                            "--run-dir", str(d / "run")], "images"),
    Case("corrupt images", lambda d: ["optimize", recipe(d, **{"data.source": corrupt_imagefolder(d)}),
                                      "--run-dir", str(d / "run")], "broken.png"),
    Case("Fashion-MNIST folder missing", optimize(**{"data.source": "fashion-mnist:/nonexistent/fm"}),
         "/nonexistent/fm"),
    Case("unknown architecture", optimize(**{"teacher.arch": "resnet9000"}), "resnet9000"),
    Case("python factory module missing", optimize(**{"student.arch": "python:no_such_module:make"}),
         "no_such_module"),
    Case("checkpoint file missing", lambda d: ["optimize", recipe(d, **{"teacher.checkpoint": str(d / "t.pt")}),
                                               "--run-dir", str(d / "run")], "t.pt"),
    Case("checkpoint with code in it", lambda d: ["optimize", recipe(d, **{"teacher.checkpoint": pickle_with_code(d)}),
                                                  "--run-dir", str(d / "run")], "teacher.pt"),
    Case("checkpoint for other classes, no epochs for its new head",
         lambda d: ["optimize", recipe(d, **{"teacher.checkpoint": wrong_class_count_checkpoint(d),
                                             "teacher.train.epochs": 0}), "--run-dir", str(d / "run")],
         "teacher.train.epochs"),
    Case("checkpoint of another architecture",
         lambda d: ["optimize", recipe(d, **{"teacher.checkpoint": wrong_class_count_checkpoint(d),
                                             "teacher.args": {"width": 8}}), "--run-dir", str(d / "run")],
         "teacher3.pt"),
    *([] if _has_cuda() else [Case("GPU requested where none exists",
                                    optimize(**{"student.train.device": "cuda"}), "student.train.device: cuda")]),
    Case("unknown timm model", optimize(**{"student.arch": "timm:mobilenetv9_huge"}), "mobilenetv9_huge"),
    Case("ONNX teacher with the wrong class count",
         lambda d: ["optimize", recipe(d, **{"teacher.arch": "onnx", "teacher.checkpoint": onnx_teacher(d, 3)}),
                    "--run-dir", str(d / "run")], "outputs shape [1, 3], the data has 10 classes"),
    Case("feature method with an ONNX teacher",
         lambda d: ["optimize", recipe(d, **{"teacher.arch": "onnx", "teacher.checkpoint": onnx_teacher(d, 10),
                                             "distill.method": "fitnets"}), "--run-dir", str(d / "run")],
         "distill.method"),
    Case("unreadable image among readable ones",
         lambda d: ["optimize", recipe(d, **{"data.source": mostly_good_imagefolder(d)}), "--run-dir",
                    str(d / "run")], "broken.png"),
    Case("--force unknown stage", lambda d: ["optimize", recipe(d), "--run-dir", str(d / "run"), "--force", "tea"],
         "--force tea"),
    Case("unknown target type", optimize(targets=[{"type": "serial"}]), "type must be one of"),
    Case("ssh host with shell metacharacters", optimize(targets=[{"type": "ssh", "host": "pi;reboot"}]),
         "targets.0.ssh.host"),
    Case("duplicate target names", optimize(targets=[{"name": "a"}, {"name": "a"}]), "repeated: a"),
    Case("bench: model file missing", lambda d: ["bench", str(d / "m.onnx")], "model file not found"),
    Case("bench: unknown model format", lambda d: ["bench", text_file(d, "m.pkl", "x")], "unknown model format"),
    Case("bench: target not in recipe", lambda d: ["bench", text_file(d, "m.onnx", "x"), "--target", "pi9",
                                                   "--recipe", recipe(d)], "--target pi9"),
    Case("bench: folder that is no run", lambda d: ["bench", str(d)], "no recipe.yaml"),
    Case("report: no report.json", lambda d: ["report", str(d)], "no report.json"),
    Case("check: results file missing", lambda d: ["check", str(d / "a.json"), "--baseline", str(d / "a.json")],
         "results file not found"),
    Case("check: invalid JSON", lambda d: ["check", text_file(d, "a.json", "{x"), "--baseline",
                                           str(d / "a.json")], "invalid JSON"),
    Case("check: not a report", lambda d: ["check", text_file(d, "a.json", "[]"), "--baseline", str(d / "a.json")],
         "not an edgeship report"),
    Case("check: threshold not a number", lambda d: ["check", text_file(d, "a.json", "[]"), "--baseline",
                                                     str(d / "a.json"), "--max-latency-regression", "lots"],
         "--max-latency-regression"),
    Case("check: confidence 1.5", lambda d: ["check", text_file(d, "a.json", "[]"), "--baseline", str(d / "a.json"),
                                             "--confidence", "1.5"], "--confidence"),
    Case("baseline update without results", lambda d: ["baseline", "update", str(d)], "no report.json"),
    Case("targets check: recipe missing", lambda d: ["targets", "check", str(d / "r.yaml")], "recipe file not found"),
    Case("segmentation: mask size differs from its image",
         lambda d: segmentation(d, broken_segfolder(d, "size")), "masks/scene000.png is 10x12"),
    Case("segmentation: class index above the class count",
         lambda d: segmentation(d, broken_segfolder(d, "class")), "scene000.png has class index 42"),
    Case("segmentation: image without a mask",
         lambda d: segmentation(d, broken_segfolder(d, "no mask")), "images/scene000.png has no mask"),
    Case("segmentation: mask without an image",
         lambda d: segmentation(d, broken_segfolder(d, "no image")), "masks/scene000.png has no image"),
    Case("segmentation: RGB mask", lambda d: segmentation(d, broken_segfolder(d, "rgb")), "not single-channel"),
    Case("segmentation: classification-only method",
         lambda d: segmentation(d, "scenes", **{"distill.method": "dkd"}), "distill.method 'dkd'"),
    Case("segmentation: classification data source", lambda d: segmentation(d, "digits"), "data.source 'digits'"),
    Case("segmentation: backbone checkpoint of another backbone",
         lambda d: segmentation(d, "scenes", **{"teacher.arch": "lraspp_mobilenet_v3_large", "teacher.args": {},
                                                "teacher.backbone_checkpoint": resnet18_weights(d),
                                                "data.image_size": 32, "data.scenes": {"count": 40}}),
         "teacher.backbone_checkpoint"),
    Case("classification task on a segmentation source", optimize(**{"data.source": "scenes"}),
         "data.source 'scenes'"),
    Case("a dense loss for classification", optimize(**{"loss.kind": "ohem"}), "loss.kind 'ohem' is for dense tasks"),
    Case("unknown scene backgrounds", lambda d: segmentation(d, "scenes", **{"data.scenes": {"backgrounds": "sky"}}),
         "data.scenes.backgrounds"),
    Case("detection: COCO box outside its image", lambda d: detection(d, broken_boxes(d, "coco outside")),
         "lies outside its"),
    Case("detection: COCO box of zero size", lambda d: detection(d, broken_boxes(d, "coco zero size")),
         "zero or negative size"),
    Case("detection: COCO category id not among the categories",
         lambda d: detection(d, broken_boxes(d, "coco category")), "category id 99"),
    Case("detection: COCO annotation for an unknown image id",
         lambda d: detection(d, broken_boxes(d, "coco image id")), "image id 424242"),
    Case("detection: COCO image file missing", lambda d: detection(d, broken_boxes(d, "coco missing image")),
         "which is missing"),
    Case("detection: COCO image file unreadable", lambda d: detection(d, broken_boxes(d, "coco unreadable image")),
         "cannot read image"),
    Case("detection: YOLO line with 4 fields", lambda d: detection(d, broken_boxes(d, "yolo fields")),
         "line 1: 4 fields"),
    Case("detection: YOLO value outside [0, 1]", lambda d: detection(d, broken_boxes(d, "yolo range")),
         "outside [0, 1]"),
    Case("detection: YOLO label file without an image", lambda d: detection(d, broken_boxes(d, "yolo orphan label")),
         "ghost.txt has no image"),
    Case("detection: a dataset with no boxes", lambda d: detection(d, broken_boxes(d, "yolo no boxes")),
         "holds no boxes"),
    Case("detection: classification-only method", lambda d: detection(d, "objects", **{"distill.method": "dkd"}),
         "distill.method 'dkd'"),
    Case("detection: segmentation data source", lambda d: detection(d, "scenes"), "data.source 'scenes'"),
    Case("budget: zero latency", optimize(**{"budget.latency_ms": 0}), "budget.latency_ms"),
    Case("budget: below anything measurable", optimize(**{"budget.latency_ms": 0.001}), "below anything measurable"),
    Case("budget: a target the recipe lacks", optimize(**{"budget.latency_ms": 8, "budget.target": "pi4"}),
         "budget.target 'pi4' is not a target"),
    Case("budget: an emulated target",
         optimize(**{"budget.latency_ms": 8, "budget.target": "pi4",
                     "targets": [{"name": "local"}, {"name": "pi4", "type": "qemu-arm64"}]}),
         "budget.target 'pi4' is emulated"),
    Case("budget: threads never measured", optimize(**{"budget.latency_ms": 8, "budget.threads": 3}),
         "budget.threads 3 is not measured"),
    Case("budget: a format not exported",
         optimize(**{"budget.latency_ms": 8, "budget.format": "tflite", "export.formats": ["onnx"]}),
         "budget.format 'tflite'"),
    Case("budget: smaller than any file", optimize(**{"budget.size_kb": 0.5}), "budget.size_kb"),
    Case("budget: too few timings for an interval", optimize(**{"budget.latency_ms": 8, "bench.min_runs": 5}),
         "bench.min_runs 5"),
    Case("--latency-budget that is not a time", lambda d: [*optimize()(d), "--latency-budget", "fast"],
         "--latency-budget 'fast'"),
    Case("--latency-budget negative", lambda d: [*optimize()(d), "--latency-budget=-3ms"], "--latency-budget '-3ms'"),
    Case("--target without a budget", lambda d: [*optimize()(d), "--target", "local"], "--target names"),
    Case("--target the recipe lacks", lambda d: [*optimize()(d), "--latency-budget", "8ms", "--target", "pi9"],
         "budget.target 'pi9'"),
    Case("path with spaces and metacharacters", lambda d: ["optimize", str(d / "my recipe; rm -rf $(pwd).yaml")],
         "my recipe; rm -rf $(pwd).yaml"),
]


def run_case(case: Case, folder: Path) -> tuple[int, str]:
    """Run one case in-process; (exit code, stderr). Output to stdout is discarded."""
    from edgeship.pipeline.cli.main import main

    argv = case.build(folder)
    err = io.StringIO()
    # Warnings count as stderr lines, as the CLI prints them (pytest would otherwise keep them to itself).
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    shown = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught)
    return code, shown + err.getvalue()


def verdict(case: Case, folder: Path) -> tuple[bool, str]:
    code, err = run_case(case, folder)
    lines = err.strip().splitlines()  # exactly one line, and it is the error
    leftovers = list(folder.rglob(".tmp-*"))
    problems = []
    if code != 2:
        problems.append(f"exit {code}")
    if len(lines) != 1 or not lines[0].startswith("edgeship: error:") or case.expect not in lines[0]:
        problems.append(f"stderr {err.strip()[-200:]!r}")
    if "Traceback" in err:
        problems.append("traceback")
    if leftovers:
        problems.append(f"left {leftovers[0].name}")
    return not problems, "; ".join(problems) or lines[0]
