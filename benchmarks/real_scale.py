#!/usr/bin/env python3
"""From toy to real: memory and speed of streamed data, and the torchvision zoo through the whole flow.

1. Peak RSS of `edgeship distill` on ImageFolders of 2 000 and 20 000 PNGs at 96 px (Fashion-MNIST items resized
   and written to disk): streaming must keep memory flat (at most +20% for 10x the images).
2. Training throughput (images/s) of the streaming loader against the in-memory path (data.in_memory), same model,
   same folder, same augmentation, side by side in one run.
3. The zoo: each family as the student of one teacher at 64 px (or --image-size) on Fashion-MNIST (3 epochs,
   3 000 images), through `edgeship optimize` (train, KD, prune, export x3, int8 x3, bench): scratch and KD
   validation top-1, the student the ship line started from, rows ok / failed with reasons, fp32 -> int8 accuracy
   drop and int8/fp32 p50 per runtime.

Every part runs the real CLI in a subprocess. `--out DIR` writes DIR/real_scale.json and keeps the run folders.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeship.pipeline.data.sources import DEFAULT_FASHION_DIR, FASHION_FILES, FASHION_LABELS, read_idx  # noqa: E402

FAMILIES = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "efficientnet_v2_s",
            "shufflenet_v2_x0_5", "regnet_x_400mf", "mnasnet0_5", "squeezenet1_0", "convnext_tiny"]
RUNTIMES = {"onnx": "onnxruntime", "tflite": "litert", "openvino": "openvino"}
# Measures peak RSS of the command it runs, every descendant included (DataLoader workers are grandchildren).
RSS_WRAPPER = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)")


def write_folder(root: Path, count: int, size: int) -> Path:
    """`count` Fashion-MNIST training items as RGB PNGs of size x size in root/train/<class>/, and 500 test items in
    root/val/<class>/."""
    from PIL import Image

    if (root / "done").is_file():
        return root
    folder = Path(DEFAULT_FASHION_DIR)
    splits = {"train": (FASHION_FILES["train"], count), "val": (FASHION_FILES["test"], 500)}
    for split, ((images_name, labels_name), n) in splits.items():
        images, labels = read_idx(folder / images_name), read_idx(folder / labels_name)
        for i in range(n):
            dest = root / split / FASHION_LABELS[labels[i]].replace("/", "-")
            dest.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).convert("RGB").resize((size, size), Image.BILINEAR).save(dest / f"{i:06d}.png")
    (root / "done").write_text("ok")
    return root


def cli(args: list[str], measure_rss: bool = False) -> tuple[subprocess.CompletedProcess, float | None]:
    command = [sys.executable, "-m", "edgeship.pipeline.cli", *args]
    if measure_rss:
        command = [sys.executable, "-c", RSS_WRAPPER, *command]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    rss = float(done.stdout.strip().splitlines()[-1]) / 1024 if measure_rss and done.stdout.strip() else None
    return done, rss


def recipe_file(folder: Path, name: str, body: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **body}, sort_keys=False))
    return path


def stream_recipe(images: Path, in_memory: bool, epochs: int) -> dict:
    return {
        "data": {"source": f"imagefolder:{images}", "image_size": 96, "channels": 3, "mean": [0.5], "std": [0.5],
                 "in_memory": in_memory, "workers": 2},
        "teacher": {"arch": "simple_cnn", "args": {"width": 16, "depth": 3},
                    "train": {"epochs": epochs, "batch_size": 64, "lr": 0.05, "augment": True, "recalibrate_bn": 0}},
        "student": {"arch": "simple_cnn", "args": {"width": 8, "depth": 3},
                    "train": {"epochs": epochs, "batch_size": 64, "lr": 0.05, "augment": True, "recalibrate_bn": 0}},
        "distill": {"baseline": False},
    }


def images_per_s(run_dir: Path, stage: str) -> float:
    log = next((run_dir / "stages").glob(f"{stage}-*/train.csv"))
    rows = list(csv.DictReader(log.open()))
    return float(np.median([float(r["images_per_s"]) for r in rows]))


def memory_part(work: Path, out: Path, repeats: int) -> tuple[dict, dict]:
    """Median peak RSS of `repeats` runs per size: one run's peak moves by tens of MB (which batch happens to be
    in flight when the peak is taken), as much as the growth being measured."""
    rss, runs = {}, {}
    for count in (2000, 20000):
        t0 = time.perf_counter()
        images = write_folder(work / f"fashion96-{count}", count, 96)
        print(f"  folder of {count} PNGs ready ({time.perf_counter() - t0:.0f} s)", flush=True)
        recipe = recipe_file(out, f"rss{count}", stream_recipe(images, False, 1))
        runs[str(count)] = []
        for repeat in range(repeats):
            run_dir = out / f"rss{count}-{repeat}"
            done, peak = cli(["distill", str(recipe), "--run-dir", str(run_dir)], True)
            if done.returncode:
                sys.exit(f"distill on {count} images failed: {done.stderr.strip().splitlines()[-1]}")
            runs[str(count)].append(peak)
        rss[str(count)] = float(np.median(runs[str(count)]))
        print(f"  peak RSS, {count} images: {rss[str(count)]:.0f} MB (median of "
              f"{', '.join(f'{r:.0f}' for r in runs[str(count)])})", flush=True)
    return rss, runs


def throughput_part(work: Path, out: Path) -> dict:
    images = write_folder(work / "fashion96-2000", 2000, 96)
    speed = {}
    for label, in_memory in (("streaming", False), ("in_memory", True)):
        recipe = recipe_file(out, f"speed-{label}", stream_recipe(images, in_memory, 3))
        run_dir = out / f"speed-{label}"
        done, _ = cli(["distill", str(recipe), "--run-dir", str(run_dir)])
        if done.returncode:
            sys.exit(f"distill ({label}) failed: {done.stderr.strip().splitlines()[-1]}")
        speed[label] = images_per_s(run_dir, "teacher")
        print(f"  {label}: {speed[label]:.0f} images/s (teacher, median epoch)", flush=True)
    return speed


def zoo_body(arch: str, teacher_weights: Path | None, epochs: int, images: int, size: int = 64) -> dict:
    held_out = 1000 if size < 128 else 300  # evaluation at 224 px costs 12x the 64-px work per image
    # CIFAR's ResNet keeps full resolution in its first stage: at 224 px that is 12x a ResNet-18's activations
    teacher = {"arch": "cifar_resnet20", "args": {"width": 16}} if size < 128 else {"arch": "resnet18", "args": {}}
    teacher["train"] = {"epochs": epochs, "batch_size": 64, "lr": 0.05, "augment": True}
    if teacher_weights:
        teacher["checkpoint"] = str(teacher_weights)
    return {
        "data": {"source": "fashion-mnist", "image_size": size, "channels": 3, "mean": [0.5], "std": [0.5],
                 "limit_train": images, "limit_val": held_out, "limit_test": held_out},
        "teacher": teacher,
        # the optimizer and its rate as a new user gets them (SGD 0.05, or Adam 0.001 without normalization layers)
        "student": {"arch": arch, "train": {"epochs": epochs, "batch_size": 64, "augment": True}},
        "prune": {"ratio": 0.3, "finetune": {"epochs": 1}},
        "export": {"teacher": False},  # the zoo table compares student files only
        "quantize": {"fallback": False, "validation_samples": held_out, "calibration": {"samples": 200}},
        "bench": {"warmup": 5, "min_runs": 50, "min_seconds": 0.5, "max_seconds": 5},
    }


def zoo_row(arch: str, report: dict, stages: dict) -> dict:
    rows = report["results"]
    failed = [r for r in rows if r["status"] != "ok"]
    reasons = sorted({f"{r['stage']}: {r['error']}" for r in failed})
    reasons += [n for n in report.get("notices", []) if "failed" in n]
    by = {(r["format"], r["precision"]): r for r in rows if r["status"] == "ok"}
    drop, speedup = {}, {}
    for fmt, runtime in RUNTIMES.items():
        fp32, int8 = by.get((fmt, "fp32")), by.get((fmt, "int8"))
        if fp32 and int8:
            drop[runtime] = round(fp32["accuracy"] - int8["accuracy"], 2)
            speedup[runtime] = round(fp32["latency_ms"]["p50"] / int8["latency_ms"]["p50"], 3)
    return {"arch": arch, "scratch": stages["student-scratch"]["val_accuracy"],
            "kd": stages["student-kd"]["val_accuracy"],
            "shipped_from": "scratch" if report.get("ship_from") == "student-scratch" else "kd",
            "rows_ok": len(rows) - len(failed), "rows_failed": len(failed), "failed_reasons": reasons,
            "int8_drop": drop, "int8_speedup": speedup, "unfit": report.get("unfit", {})}


def zoo_part(out: Path, families: list[str], epochs: int, images: int, size: int) -> list[dict]:
    t0 = time.perf_counter()
    teacher_recipe = recipe_file(out, "zoo-teacher", zoo_body("simple_cnn", None, epochs, images, size))
    done, _ = cli(["distill", str(teacher_recipe), "--run-dir", str(out / "zoo-teacher")])
    if done.returncode:
        sys.exit(f"zoo teacher failed: {done.stderr.strip().splitlines()[-1]}")
    weights = next((out / "zoo-teacher" / "stages").glob("teacher-*/weights.pt"))
    print(f"  teacher trained ({time.perf_counter() - t0:.0f} s)", flush=True)
    table = []
    for arch in families:
        t0 = time.perf_counter()
        recipe = recipe_file(out, f"zoo-{arch}", zoo_body(arch, weights, epochs, images, size))
        run_dir = out / f"zoo-{arch}"
        done, _ = cli(["optimize", str(recipe), "--run-dir", str(run_dir)])
        if not (run_dir / "report.json").is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            table.append({"arch": arch, "scratch": None, "kd": None, "shipped_from": None, "rows_ok": 0,
                          "rows_failed": 0, "failed_reasons": [f"run failed: {last}"], "int8_drop": {},
                          "int8_speedup": {}})
        else:
            report = json.loads((run_dir / "report.json").read_text())
            stages = {p.name.rsplit("-", 1)[0]: json.loads((p / "artifact.json").read_text())["metrics"]
                      for p in (run_dir / "stages").iterdir() if (p / "artifact.json").is_file()}
            table.append(zoo_row(arch, report, stages))
        row = table[-1]
        print(f"  {arch:<20} scratch {row['scratch'] or 0:6.2f}  KD {row['kd'] or 0:6.2f}  from {row['shipped_from']}"
              f"  rows ok {row['rows_ok']} failed {row['rows_failed']}  int8 drop {row['int8_drop']}"
              f"  int8 speed-up {row['int8_speedup']}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        for reason in row["failed_reasons"]:
            print(f"      {reason}", flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write real_scale.json here and keep the run folders (default: a temp folder)")
    parser.add_argument("--parts", nargs="+", default=["memory", "throughput", "zoo"],
                        choices=["memory", "throughput", "zoo"])
    parser.add_argument("--families", nargs="+", default=FAMILIES)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rss-repeats", type=int, default=3, help="runs per folder size for the peak RSS (median)")
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--image-size", type=int, default=64, help="the zoo's input size (224: the size edge teams "
                        "train at; evaluation then uses 300 validation and test images)")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        work = Path(tmp)
        result: dict = {}
        if "memory" in args.parts:
            print("peak RSS of edgeship distill, streaming ImageFolder at 96 px", flush=True)
            result["rss_mb"], result["rss_mb_runs"] = memory_part(work, out, args.rss_repeats)
            growth = result["rss_mb"]["20000"] / result["rss_mb"]["2000"] - 1
            print(f"  growth for 10x the images: {growth:+.1%} (goal: at most +20%)", flush=True)
        if "throughput" in args.parts:
            print("training throughput, same model and folder (2000 images, 96 px, crops + flips)", flush=True)
            result["images_per_s"] = throughput_part(work, out)
        if "zoo" in args.parts:
            print(f"zoo at {args.image_size} px, Fashion-MNIST, {args.epochs} epochs, {args.images} images", flush=True)
            result["zoo"] = zoo_part(out, args.families, args.epochs, args.images, args.image_size)
        if args.out:
            (out / "real_scale.json").write_text(json.dumps(result, indent=2))
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
