#!/usr/bin/env python3
"""Does distillation pay for segmentation? One teacher, the same student from scratch and with pixel-wise KD,
CWD, SKD (pixel + pair-wise) and FitNets hints, 3 seeds each, on the built-in scenes; then the best method's
student through `edgeship optimize` (prune, int8 on three runtimes, bench with the teacher exported to each).

Prints one table and the goals' figures; --out DIR writes DIR/distill_segmentation.json and keeps the run folder.

Setup (sized for a 2-core CPU): scenes of Fashion-MNIST items (digits where Debian's dataset-fashion-mnist is
missing) at --size px; teacher UNet width 32 and student UNet width 8 (depth 3 both: the student costs 1/16 of the
teacher's MACs); every student sees the same scenes, epochs, schedule, augmentation and seeds. mIoU is on the
held-out test scenes (made from items no training scene contains).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.method_table import cached_teacher, chosen_methods, print_gains, seeded_runs  # noqa: E402
from benchmarks.product_run import product_figures, run_optimize  # noqa: E402
from edgeship.pipeline.config.loss import LossConfig  # noqa: E402
from edgeship.pipeline.config.recipe import DataConfig, DistillConfig, TrainConfig  # noqa: E402
from edgeship.pipeline.core.infrastructure.keys import content_key, tool_versions  # noqa: E402
from edgeship.pipeline.data.datasets import load_dataset  # noqa: E402
from edgeship.pipeline.data.sources import DEFAULT_FASHION_DIR  # noqa: E402
from edgeship.pipeline.distillation.distiller import Distiller  # noqa: E402
from edgeship.pipeline.models.zoo import build_model, count_macs_params  # noqa: E402
from edgeship.pipeline.tasks.segmentation import SEGMENTATION  # noqa: E402
from edgeship.pipeline.training.loop import accuracy, train  # noqa: E402

TEACHER_ARCH, TEACHER_DEPTH = "unet", 3
STUDENT = ("unet", {"width": 8, "depth": 3})
# The decoders' first up block: 1/4 of the input size, 128 teacher / 32 student channels.
PAIRS = [{"teacher": "up.0", "student": "up.0"}]
METHODS = {
    "scratch": None,
    "pixel-kd": DistillConfig(method="kd", temperature=2.0, alpha=0.5),
    "cwd": DistillConfig(method="cwd", alpha=0.0, options={"temperature": 4.0}),  # Shu et al.: CE + CWD on logits
    "skd": DistillConfig(method="skd", temperature=2.0, alpha=0.5, layers=PAIRS),  # pixel-wise + pair-wise
    "hints": DistillConfig(method="fitnets", temperature=2.0, alpha=0.5, layers=PAIRS),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write distill_segmentation.json (and the optimize run folder) here")
    parser.add_argument("--items", default="fashion-mnist", choices=["fashion-mnist", "digits"])
    parser.add_argument("--size", type=int, default=32, help="scene size in px")
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15, help="student epochs")
    parser.add_argument("--teacher-epochs", type=int, default=20)
    parser.add_argument("--teacher-width", type=int, default=32,
                        help="UNet width of the teacher (16 costs a quarter of 32's time and tracked it on photos)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument("--skip-optimize", action="store_true", help="only the methods table")
    parser.add_argument("--backgrounds", default="dark", choices=["dark", "photo"],
                        help="photo: RGB scenes on scikit-learn's photographs (the hard case; JSON block 'photo')")
    parser.add_argument("--loss", default="auto", help="loss.kind of every model (auto: the task's default)")
    parser.add_argument("--losses", default="ce",
                        help="scratch students also trained with these loss kinds, beside --loss (comma-separated)")
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "edgeship" / "benchmarks"),
                        help="where the trained teacher is kept between runs")
    args = parser.parse_args()
    args.teacher = (TEACHER_ARCH, {"width": args.teacher_width, "depth": TEACHER_DEPTH})
    return args


def data_config(args) -> DataConfig:
    items = args.items
    if items == "fashion-mnist" and not (Path(DEFAULT_FASHION_DIR) / "train-images-idx3-ubyte.gz").is_file():
        print(f"Fashion-MNIST not in {DEFAULT_FASHION_DIR}: scenes of digits instead", flush=True)
        items = "digits"
    if args.backgrounds == "photo":
        return DataConfig(source=f"scenes:{items}", image_size=args.size, channels=3, mean=[0.45] * 3,
                          std=[0.25] * 3, scenes={"count": args.scenes, "backgrounds": "photo"})
    return DataConfig(source=f"scenes:{items}", image_size=args.size, mean=[0.2], std=[0.3],
                      scenes={"count": args.scenes})


def task_with_loss(kind: str, data):
    """The segmentation task with loss.kind `kind` (class weights from the training masks, as the product does)."""
    loss, record = SEGMENTATION.make_loss(LossConfig(kind=kind), data.train, data.num_classes)
    label = f"{record['kind']}^{record['power']:g}" if "power" in record else record["kind"]  # weights' power
    return dataclasses.replace(SEGMENTATION, loss=loss), label


def student_train(args) -> TrainConfig:
    # One warm-up epoch: without it a third of the seeds sat in "everything is background" for most of the run
    # (mIoU 10-12% against 21-27% with it, 10 epochs, here).
    return TrainConfig(epochs=args.epochs, batch_size=32, lr=0.005, optimizer="adam", weight_decay=1e-4,
                       augment=True, warmup_epochs=1.0)


def teacher_train(args) -> TrainConfig:
    return TrainConfig(epochs=args.teacher_epochs, batch_size=32, lr=0.003, optimizer="adam", weight_decay=1e-4,
                       augment=True)


def trained_teacher(data, task, loss_label: str, args) -> tuple[torch.nn.Module, Path]:
    cfg = teacher_train(args)
    key = content_key(args.teacher, cfg.model_dump(), data.key, loss_label, tool_versions("torch"))
    folder = Path(args.cache_dir) / f"scenes-teacher-{key}"
    model = build_model(args.teacher[0], data.num_classes, data.preprocessing["channels"], args.size, args.teacher[1])
    path = cached_teacher(model, folder, lambda: train(
        model, data.train, data.val, cfg, seed=0, task=task,
        on_epoch=lambda r: print(f"  teacher epoch {r['epoch']}: val mIoU {r['val_acc']:.2f}% ({r['seconds']:.0f} s)",
                                 flush=True)))
    return model.eval(), path


def run_method(name, cfg, teacher, data, task, args, example) -> dict:
    def one(seed: int) -> tuple[float, float]:
        torch.manual_seed(seed)
        student = build_model(STUDENT[0], data.num_classes, data.preprocessing["channels"], args.size, STUDENT[1])
        distiller = Distiller(teacher, student, cfg, example, task.loss) if cfg else None
        start = time.perf_counter()
        history = train(student, data.train, data.val, student_train(args), seed=seed, distiller=distiller,
                        task=task)
        elapsed = time.perf_counter() - start
        if distiller:
            distiller.close()
        return accuracy(student, data.test, task), elapsed / len(history)

    return seeded_runs(name, args.seeds, one, unit="mIoU ")


def optimize_recipe(args, data_cfg: DataConfig, teacher_path: Path, method: str) -> dict:
    """The best method's student through the product: prune, fp32 + int8 in three formats, teacher exported to
    each format, mIoU and latency measured by the device agent (the teacher is the cached one: no retraining)."""
    student = student_train(args)
    return {
        "name": "distill-segmentation", "task": "segmentation", "seed": 0,
        "data": data_cfg.model_dump(mode="json"), "loss": {"kind": args.loss},
        "teacher": {"arch": args.teacher[0], "args": args.teacher[1], "checkpoint": str(teacher_path)},
        "student": {"arch": STUDENT[0], "args": STUDENT[1], "train": student.model_dump(mode="json")},
        "distill": {**METHODS[method].model_dump(mode="json"), "baseline": False},
        # 10 epochs a step at the student's learning rate: at 5 epochs and lr 0.002 the pruned student landed
        # -1.2 and +6.7 points from its start in two runs (docs/segmentation.md)
        "prune": {"ratio": 0.3, "finetune": {**student.model_dump(mode="json"), "epochs": 10}},
        "export": {"formats": ["onnx", "tflite", "openvino"], "teacher": True},
        "quantize": {"calibration": {"samples": 300, "sampling": "random"}, "max_accuracy_drop": 0.5},
        "bench": {"warmup": 20, "min_runs": 200, "min_seconds": 2.0, "threads": 1},
        "ship": {"max_accuracy_drop": 1.0},
    }


def loss_table(args, data, methods_rows: list[dict], example) -> dict:
    """Scratch students with each --losses kind beside the default one (the scratch row of the methods table)."""
    table = {methods_rows[0]["loss"]: methods_rows[0]}
    for kind in [k for k in args.losses.split(",") if k]:
        task, resolved = task_with_loss(kind, data)
        if resolved not in table:
            table[resolved] = run_method(f"scratch {resolved}", None, None, data, task, args, example)
    print("\nloss of the scratch student (mean ± std): " + ", ".join(
        f"{kind} {row['mean']:.2f} ± {row['std']:.2f}" for kind, row in table.items()), flush=True)
    return {kind: {"mean": row["mean"], "std": row["std"]} for kind, row in table.items()}


def pruned_drop(report: dict) -> float | None:
    """Test mIoU of the student pruning started from minus the pruned one's (torch rows, local)."""
    rows = {r["stage"]: r for r in report["results"] if r["status"] == "ok" and r["target"] == "local"}
    start = rows.get(report.get("ship_from") or "student-kd")
    return start["accuracy"] - rows["pruned"]["accuracy"] if start and "pruned" in rows else None


def main() -> int:
    args = parse_args()
    methods = chosen_methods(args.methods, METHODS)
    if methods is None:
        return 2
    started = time.perf_counter()
    data_cfg = data_config(args)
    data = load_dataset(data_cfg)
    task, loss_kind = task_with_loss(args.loss, data)
    example = torch.zeros(1, data_cfg.channels, args.size, args.size)
    print(f"{data_cfg.source} ({args.backgrounds}) at {args.size} px: {data.describe()}; loss {loss_kind}; "
          f"{torch.get_num_threads()} threads", flush=True)
    teacher, teacher_path = trained_teacher(data, task, loss_kind, args)
    teacher_miou = accuracy(teacher, data.test, task)
    t_macs, t_params = count_macs_params(teacher, example)
    s_macs, s_params = count_macs_params(
        build_model(STUDENT[0], data.num_classes, data_cfg.channels, args.size, STUDENT[1]), example)
    chance = SEGMENTATION.chance(data.num_classes) if SEGMENTATION.chance else 100.0 / data.num_classes
    print(f"teacher {args.teacher[0]} {args.teacher[1]}: mIoU {teacher_miou:.2f}% ({teacher_miou / chance:.1f}x chance "
          f"{chance:.1f}%), {t_macs:,} MACs, {t_params:,} params")
    print(f"student {STUDENT[0]} {STUDENT[1]}: {s_macs:,} MACs ({t_macs / s_macs:.1f}x fewer), {s_params:,} "
          f"params; {args.epochs} epochs, {args.seeds} seeds", flush=True)
    rows = [{**run_method(m, METHODS[m], teacher, data, task, args, example), "loss": loss_kind} for m in methods]
    best = print_gains(rows, "mIoU %")
    print(f"\nbest method: {best['method']} {best['gain']:+.2f} points mIoU over scratch (goal >= +1.0); "
          f"teacher mIoU {teacher_miou:.2f}%", flush=True)
    losses = loss_table(args, data, rows, example) if args.backgrounds == "photo" else {}
    ratio, drops, drop = {}, {}, None
    if not args.skip_optimize and best["method"] != "scratch":
        folder = Path(args.out) if args.out else Path("/tmp") / "distill-segmentation"
        report = run_optimize(optimize_recipe(args, data_cfg, teacher_path, best["method"]), folder / "optimize")
        ratio, drops, _ = product_figures(report)
        drop = pruned_drop(report)
        print("teacher/student p50 latency, same runtime (goal >= 10x): "
              + ", ".join(f"{fmt} {value:.1f}x" for fmt, value in ratio.items()))
        print("int8 mIoU drop against fp32, same runtime (goal <= 0.5): "
              + ", ".join(f"{fmt} {value:+.2f}" for fmt, value in drops.items()))
        if drop is not None:
            print(f"pruned 30%: test mIoU {drop:+.2f} points below its unpruned start (goal <= 2)", flush=True)
    seconds = time.perf_counter() - started
    print(f"total {seconds:.0f} s")
    if args.out:
        write_json(Path(args.out), args, data_cfg, data, {
            "teacher": {"miou": teacher_miou, "macs": t_macs, "params": t_params},
            "student": {"macs": s_macs, "params": s_params}, "methods": rows,
            "latency_ratio_same_runtime": ratio, "int8_drop": drops, "seconds": seconds}, {
            "teacher": teacher_miou, "scratch": rows[0]["mean"],
            "best": {"method": best["method"], "mean": best["mean"]}, "pruned_drop": drop, "losses": losses})
    return 0


def write_json(out: Path, args, data_cfg, data, result: dict, photo: dict) -> None:
    """DIR/distill_segmentation.json: the dark-scene figures at the top level, a photo run's in its "photo" block
    (added to what an earlier dark run wrote)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "distill_segmentation.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}
    setup = {"source": data_cfg.source, "backgrounds": args.backgrounds, "size": args.size, "scenes": args.scenes,
             "teacher": args.teacher, "student": STUDENT, "epochs": args.epochs, "seeds": args.seeds,
             "teacher_epochs": args.teacher_epochs, "train_images": len(data.train), "loss": args.loss}
    if args.backgrounds == "photo":
        saved["photo"] = {**photo, "details": {**result, "setup": setup}}
    else:
        saved.update({**result, "setup": setup})
    path.write_text(json.dumps(saved, indent=2))


if __name__ == "__main__":
    sys.exit(main())
