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

from benchmarks.distill_setup import DEFAULT_METHODS, METHODS, PAIRS, SCHEMES, STUDENT, TEACHER, Setup, trained_teacher  # noqa: E402
from benchmarks.method_table import chosen_methods, print_below_scratch, print_gains, print_over_kd  # noqa: E402
from edgeship.pipeline.config.recipe import DataConfig, DistillConfig  # noqa: E402
from edgeship.pipeline.data.datasets import load_dataset  # noqa: E402
from edgeship.pipeline.data.sources import DEFAULT_FASHION_DIR  # noqa: E402
from edgeship.pipeline.models.zoo import build_model, count_macs_params  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_FASHION_DIR, help="folder with the Fashion-MNIST IDX .gz files")
    parser.add_argument("--out", help="write distill.json here")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="student epochs")
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--limit-train", type=int, help="use only this many training images (quick checks)")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help="comma-separated subset of " + ",".join(METHODS)
                        + " (X+kd: the method beside KD, as a recipe's defaults give it)")
    parser.add_argument("--schemes", default=",".join(SCHEMES), help="comma-separated subset of online,self "
                        "(born-again),deep_to_shallow; "
                        "'none' to skip")
    parser.add_argument("--search", type=int, default=600, metavar="SECONDS",
                        help="the search's time budget (0: skip the search)")
    parser.add_argument("--mobilenet", default="scratch,kd,dist",
                        help="methods for the MobileNetV2 student at 32 px ('none' to skip)")
    parser.add_argument("--mobilenet-schemes", default="none",
                        help="schemes for MobileNetV2 too (e.g. online,self,deep_to_shallow: about 20 min more); "
                        "needs scratch among --mobilenet")
    parser.add_argument("--mobilenet-train", type=int, default=5000,
                        help="training images for MobileNetV2 (it trains at about 100 images/s on 2 cores)")
    parser.add_argument("--mobilenet-epochs", type=int, default=3)
    parser.add_argument("--mobilenet-only", action="store_true", help="skip the small CNN's parts")
    parser.add_argument("--beta", default="auto", help="auto (default), paper, or a number: every method's beta")
    parser.add_argument("--balance", type=float, help="beta: auto's fraction of the cross entropy")
    parser.add_argument("--beta-schedule", choices=["constant", "cosine"], default="constant",
                        help="every method's beta_schedule")
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "edgeship" / "benchmarks"),
                        help="where the trained teacher is kept between runs")
    return parser.parse_args()



def student_line(teacher, student: tuple[str, dict], data, size: int, args) -> str:
    example = torch.zeros(1, 1, size, size)
    t_macs, t_params = count_macs_params(teacher, example)
    s_macs, s_params = count_macs_params(build_model(student[0], data.num_classes, 1, size, student[1]), example)
    return (f"student {student[0]} {student[1]} at {size} px: {s_macs:,} MACs ({s_macs / t_macs:.3f} of the "
            f"teacher), {s_params:,} params")


def timed(label: str, parts: dict, work):
    start = time.perf_counter()
    result = work()
    parts[label] = time.perf_counter() - start
    print(f"[{label}: {parts[label]:.0f} s]", flush=True)
    return result


def scheme_table(setup: Setup, schemes: list[str], scratch: dict) -> tuple[list[dict], list[str]]:
    """Each scheme over the seeds, printed against the scratch row (born-again needs that row's students); the rows
    and the schemes below scratch by more than the seed spread."""
    rows = [setup.run_scheme(s) for s in schemes]
    for row in rows:
        print(f"scheme {row['scheme']:<16}{row['mean']:>8.2f} ± {row['std']:.2f}  "
              f"({row['mean'] - scratch['mean']:+.2f} over scratch)", flush=True)
    below = print_below_scratch([scratch, *({**r, "method": f"scheme {r['scheme']}"} for r in rows)]) if rows else []
    return rows, below


def small_cnn_parts(methods: list[str], schemes: list[str], args, parts: dict) -> dict:
    """The cached teacher and the small CNN student: every method, each scheme, the search."""
    data = load_dataset(DataConfig(source=f"fashion-mnist:{args.data}", image_size=28, mean=[0.286], std=[0.353],
                                   limit_train=args.limit_train))
    print(f"Fashion-MNIST: {data.describe()}; {torch.get_num_threads()} threads", flush=True)
    teacher, teacher_acc = timed("teacher", parts, lambda: trained_teacher(data, args, 28))
    example = torch.zeros(1, 1, 28, 28)
    t_macs, t_params = count_macs_params(teacher, example)
    s_macs, s_params = count_macs_params(build_model(STUDENT[0], data.num_classes, 1, 28, STUDENT[1]), example)
    print(f"teacher {TEACHER[0]} {TEACHER[1]}: {teacher_acc:.2f}%, {t_macs:,} MACs, {t_params:,} params")
    print(student_line(teacher, STUDENT, data, 28, args) + f"; {args.epochs} epochs, {args.seeds} seeds", flush=True)
    cnn = Setup(data, teacher, STUDENT, 28, args.epochs, args)
    rows = timed("methods", parts, lambda: [cnn.run(m, METHODS[m]) for m in methods])
    best = print_gains(rows, "top-1 %")
    print_over_kd(rows)
    below = print_below_scratch(rows)
    print(f"best method: {best['method']} {best['gain']:+.2f} points over scratch (target >= +3.0); student MACs "
          f"{s_macs / t_macs:.3f} of the teacher's")
    scheme_rows, scheme_below = timed("schemes", parts, lambda: scheme_table(cnn, schemes, rows[0]))
    below += scheme_below
    found = timed("search", parts, lambda: cnn.search(args.search)) if args.search else None
    if found:
        found["full_seconds"] = parts["methods"]
        print(f"search pick {found['pick']}: {found['mean']:.2f} (best of the full table: {best['method']} "
              f"{best['mean']:.2f}); {found['seconds']:.0f} s (trials and one full training) against "
              f"{found['full_seconds']:.0f} s for the table ({found['seconds'] / found['full_seconds']:.2f} of it)")
    return {"teacher": {"accuracy": teacher_acc, "macs": t_macs, "params": t_params},
            "student": {"macs": s_macs, "params": s_params}, "methods": rows, "schemes": scheme_rows,
            "search": found, "train_images": len(data.train), "below_scratch": below}


def main() -> int:
    args = parse_args()
    if not (Path(args.data) / "train-images-idx3-ubyte.gz").is_file():
        print(f"SKIPPED: Fashion-MNIST not found in {args.data} (apt-get install dataset-fashion-mnist)")
        return 0
    methods = chosen_methods(args.methods, METHODS)
    schemes = [] if args.schemes == "none" else args.schemes.split(",")
    mobile = [] if args.mobilenet == "none" else chosen_methods(args.mobilenet, METHODS)
    mobile_schemes = [] if args.mobilenet_schemes == "none" else args.mobilenet_schemes.split(",")
    if methods is None or mobile is None or not set(schemes + mobile_schemes) <= set(SCHEMES):
        return 2
    if mobile_schemes and (not mobile or mobile[0] != "scratch"):
        print("--mobilenet-schemes: the schemes are compared with MobileNetV2's scratch row: start --mobilenet "
              "with scratch", file=sys.stderr)
        return 2
    started, parts = time.perf_counter(), {}
    result = {} if args.mobilenet_only else small_cnn_parts(methods, schemes, args, parts)
    result["mobilenet_v2"] = timed("mobilenet_v2", parts, lambda: mobilenet_rows(mobile, mobile_schemes, args)
                                   ) if mobile else {"methods": []}
    print(f"\ntotal {time.perf_counter() - started:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in parts.items())})")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        result |= {"seconds": parts, "setup": {
            "teacher": TEACHER, "student": STUDENT, "epochs": args.epochs, "seeds": args.seeds, "beta": args.beta,
            "balance": args.balance, "beta_schedule": args.beta_schedule, "pairs": PAIRS,
            "train_images": result.pop("train_images", None),
            "teacher_epochs": args.teacher_epochs, "mobilenet": {"train_images": args.mobilenet_train,
                                                                 "epochs": args.mobilenet_epochs}}}
        (out / "distill.json").write_text(json.dumps(result, indent=2))
    return 0


def mobilenet_rows(methods: list[str], schemes: list[str], args) -> dict:
    """torchvision's MobileNetV2 as the student at 32 px (a teacher of its own, trained on the whole split at 32 px
    and cached), on --mobilenet-train images: logit methods, and feature methods on the penultimate features."""
    def fashion_32(limit_train: int | None):
        return load_dataset(DataConfig(source=f"fashion-mnist:{args.data}", image_size=32, mean=[0.286],
                                       std=[0.353], limit_train=limit_train, limit_val=1000, limit_test=5000))

    data = fashion_32(args.mobilenet_train)
    # The teacher learns from the whole training split, as a pretrained teacher has: trained on the student's
    # 5000 images it was barely stronger than MobileNetV2 (82.9% against 81.6%) and KD copied its errors.
    teacher, teacher_acc = trained_teacher(fashion_32(None), args, 32)
    student = ("mobilenet_v2", {})
    print(f"MobileNetV2: teacher {teacher_acc:.2f}% at 32 px; " + student_line(teacher, student, data, 32, args)
          + f"; {args.mobilenet_epochs} epochs on {len(data.train)} images", flush=True)
    setup = Setup(data, teacher, student, 32, args.mobilenet_epochs, args)
    pen = [{"teacher": "pool", "student": "features"}]
    rows = [setup.run(m, METHODS[m] if not (METHODS[m] and METHODS[m].layers)
                      else DistillConfig(**METHODS[m].model_dump(exclude={"layers"}), layers=pen)) for m in methods]
    print_gains(rows, "MobileNetV2 top-1 %")
    below = print_below_scratch(rows)
    scheme_rows, scheme_below = scheme_table(setup, schemes, rows[0])
    below += scheme_below
    return {"methods": rows, **({"schemes": scheme_rows} if scheme_rows else {}), "below_scratch": below}


if __name__ == "__main__":
    sys.exit(main())
