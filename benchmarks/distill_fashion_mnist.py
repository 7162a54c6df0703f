#!/usr/bin/env python3
"""Does distillation pay? One teacher, the same student from scratch and with every method, 3 seeds each,
on Fashion-MNIST (Debian's dataset-fashion-mnist). Prints one table; --out DIR also writes DIR/distill.json.

Setup (sized for a 2-core CPU and < 30 minutes): teacher cifar_resnet8 width 16 trained once on the full
54k training split and cached; student simple_cnn width 8, depth 2; every student sees the same 54k
training images for the same epochs, batch size, schedule and seeds. Accuracy is top-1 on the 10k test set.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.method_table import chosen_methods, print_gains, seeded_runs  # noqa: E402
from pipeline.config.recipe import DataConfig, DistillConfig, TrainConfig  # noqa: E402
from pipeline.core.keys import content_key, tool_versions  # noqa: E402
from pipeline.data.datasets import DEFAULT_FASHION_DIR, load_dataset  # noqa: E402
from pipeline.distillation.distiller import Distiller  # noqa: E402
from pipeline.models.zoo import build_model, count_macs_params  # noqa: E402
from pipeline.training.loop import accuracy, train  # noqa: E402

TEACHER = ("cifar_resnet8", {"width": 16})
STUDENT = ("simple_cnn", {"width": 8, "depth": 2})
# Teacher layer2 and student block 2 both give 14x14 maps (32 and 16 channels).
PAIRS = [{"teacher": "layer2", "student": "features.6"}]
# The CRD benchmark's settings: feature methods train with CE + beta * their loss, no KD term; beta is each
# method's default (auto: balanced against CE on the first batches; --beta paper: the published weights).
METHODS = {
    "scratch": None,
    "kd": DistillConfig(method="kd", temperature=4.0, alpha=0.9),
    "fitnets": DistillConfig(method="fitnets", alpha=0.0, layers=PAIRS),
    "at": DistillConfig(method="at", alpha=0.0, layers=PAIRS),
    "sp": DistillConfig(method="sp", alpha=0.0, layers=PAIRS),
    "rkd": DistillConfig(method="rkd", alpha=0.0, layers=PAIRS),
    "pkt": DistillConfig(method="pkt", alpha=0.0, layers=PAIRS),
    "dkd": DistillConfig(method="dkd", alpha=0.0, temperature=4.0, dkd_alpha=1.0, dkd_beta=8.0, dkd_warmup=2),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_FASHION_DIR, help="folder with the Fashion-MNIST IDX .gz files")
    parser.add_argument("--out", help="write distill.json here")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="student epochs")
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--limit-train", type=int, help="use only this many training images (quick checks)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument("--beta", default="auto", help="auto (default), paper, or a number: every method's beta")
    parser.add_argument("--balance", type=float, help="beta: auto's fraction of the cross entropy")
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "edgeship" / "benchmarks"),
                        help="where the trained teacher is kept between runs")
    return parser.parse_args()


def trained_teacher(data, args) -> tuple[torch.nn.Module, float]:
    cfg = TrainConfig(epochs=args.teacher_epochs, lr=0.05, batch_size=128)
    key = content_key(TEACHER, cfg.model_dump(), data.key, tool_versions("torch"))
    folder = Path(args.cache_dir) / f"fashion-teacher-{key}"
    model = build_model(TEACHER[0], data.num_classes, 1, 28, TEACHER[1])
    if (folder / "teacher.pt").is_file():
        model.load_state_dict(torch.load(folder / "teacher.pt", weights_only=True))
        print(f"teacher: cached in {folder}", flush=True)
    else:
        start = time.perf_counter()
        train(model, data.train, data.val, cfg, seed=0,
              on_epoch=lambda r: print(f"  teacher epoch {r['epoch']}: val {r['val_acc']:.2f}% "
                                       f"({r['seconds']:.0f} s)", flush=True))
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), folder / "teacher.pt")
        print(f"teacher: trained in {time.perf_counter() - start:.0f} s, cached in {folder}", flush=True)
    return model.eval(), accuracy(model, data.test)


def run_method(name, cfg, teacher, data, args, example) -> dict:
    train_cfg = TrainConfig(epochs=args.epochs, lr=0.05, batch_size=128)
    if cfg is not None:
        beta = args.beta if args.beta in ("auto", "paper") else float(args.beta)
        cfg = cfg.model_copy(update={"beta": beta, **({"balance": args.balance} if args.balance else {})})
    chosen = []

    def one(seed: int) -> tuple[float, float]:
        torch.manual_seed(seed)
        student = build_model(STUDENT[0], data.num_classes, 1, 28, STUDENT[1])
        distiller = Distiller(teacher, student, cfg, example) if cfg else None
        start = time.perf_counter()
        history = train(student, data.train, data.val, train_cfg, seed=seed, distiller=distiller)
        elapsed = time.perf_counter() - start
        if distiller:
            distiller.close()
            chosen.append(history[-1].get("beta"))
        return accuracy(student, data.test), elapsed / len(history)

    row = seeded_runs(name, args.seeds, one)
    if any(b is not None for b in chosen):
        row["beta"] = chosen
        print(f"  {name} beta ({cfg.beta}): " + ", ".join(f"{b:.4g}" for b in chosen), flush=True)
    return row


def main() -> int:
    args = parse_args()
    if not (Path(args.data) / "train-images-idx3-ubyte.gz").is_file():
        print(f"SKIPPED: Fashion-MNIST not found in {args.data} (apt-get install dataset-fashion-mnist)")
        return 0
    methods = chosen_methods(args.methods, METHODS)
    if methods is None:
        return 2
    data = load_dataset(DataConfig(source=f"fashion-mnist:{args.data}", image_size=28, mean=[0.286], std=[0.353],
                                   limit_train=args.limit_train))
    example = torch.zeros(1, 1, 28, 28)
    print(f"Fashion-MNIST: {data.describe()}; {torch.get_num_threads()} threads", flush=True)
    started = time.perf_counter()
    teacher, teacher_acc = trained_teacher(data, args)
    t_macs, t_params = count_macs_params(teacher, example)
    s_macs, s_params = count_macs_params(build_model(STUDENT[0], data.num_classes, 1, 28, STUDENT[1]), example)
    print(f"teacher {TEACHER[0]} {TEACHER[1]}: {teacher_acc:.2f}%, {t_macs:,} MACs, {t_params:,} params")
    print(f"student {STUDENT[0]} {STUDENT[1]}: {s_macs:,} MACs ({s_macs / t_macs:.3f} of the teacher), "
          f"{s_params:,} params; {args.epochs} epochs, {args.seeds} seeds", flush=True)
    rows = [run_method(m, METHODS[m], teacher, data, args, example) for m in methods]
    best = print_gains(rows, "top-1 %")
    print(f"\nbest method: {best['method']} {best['gain']:+.2f} points over scratch (target >= +1.0); "
          f"student MACs {s_macs / t_macs:.3f} of the teacher's (target <= 0.1); "
          f"total {time.perf_counter() - started:.0f} s")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        result = {"teacher": {"accuracy": teacher_acc, "macs": t_macs, "params": t_params},
                  "student": {"macs": s_macs, "params": s_params}, "methods": rows,
                  "setup": {"teacher": TEACHER, "student": STUDENT, "epochs": args.epochs, "seeds": args.seeds,
                            "beta": args.beta, "balance": args.balance,
                            "train_images": len(data.train), "teacher_epochs": args.teacher_epochs}}
        (out / "distill.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
