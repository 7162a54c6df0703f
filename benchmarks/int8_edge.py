#!/usr/bin/env python3
"""Int8 at the sizes edge teams ship: torchvision models at 3x224x224 through export and int8 on every runtime.

Per model, runtime and thread count: fp32 and int8 p50, the int8 speed-up with its paired 95% interval (both
files timed interleaved in one agent, core/contracts/speed.py), size ratio, the int8 file's peak RSS and cold start
(measured alone), and the share of its time in int8 kernels from the runtime's own profiler (onnxruntime session
profiling, OpenVINO performance counters; LiteRT's Python API has none: its row says so).

Weights: random for --models (no pretrained weights on this machine): the speed columns hold, the accuracy
column is null; BatchNorm statistics are settled on the calibration images first, so activations have realistic
ranges for the int8 scales. --trained MODEL also trains that model by edgeship's own loop on Fashion-MNIST
upscaled to 3x224x224 (cached), and its rows carry the int8 accuracy drop on held-out test images; the sweep
then runs on it too, with accuracy.

--out DIR writes DIR/int8_edge.json; exported files are cached in --work by model and runtime.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeship.calibration.calibration_set import CalibrationSet  # noqa: E402
from edgeship.pipeline.cli.telemetry import opt_out_of_openvino_telemetry  # noqa: E402
from edgeship.pipeline.config.recipe import DataConfig, QuantizeConfig, TrainConfig  # noqa: E402
from edgeship.pipeline.core.contracts.formats import format_named, model_files  # noqa: E402
from edgeship.pipeline.core.contracts.speed import SpeedComparison  # noqa: E402
from edgeship.pipeline.core.infrastructure.keys import content_key, tool_versions  # noqa: E402
from edgeship.pipeline.data.datasets import load_dataset  # noqa: E402
from edgeship.pipeline.data.sources import DEFAULT_FASHION_DIR  # noqa: E402
from edgeship.pipeline.models.zoo import build_model  # noqa: E402
from edgeship.pipeline.training.loop import accuracy, train  # noqa: E402
from edgeship.targets.agent import evaluate, open_runner  # noqa: E402
from edgeship.targets.base import BenchRequest  # noqa: E402
from edgeship.targets.local import LocalTarget  # noqa: E402

MODELS = ("mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "resnet18")
FORMATS = ("onnx", "openvino", "tflite")
SIZE = 224
EQUAL_WITHIN = 0.05


def random_model(name: str, images: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(name, 1000, 3, SIZE, {})
    model.train()
    with torch.no_grad():  # BatchNorm statistics from the calibration images, not their initial 0 and 1
        for batch in images.split(16):
            model(batch)
    return model.eval()


def calibration_images(count: int, seed: int = 0) -> np.ndarray:
    """Smooth random images (a coarse grid upsampled), normalized like ImageNet inputs: stand-ins with the
    spatial correlation of photographs, which white noise lacks."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(0, 1, (count, 3, 14, 14)).astype(np.float32))
    images = torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return ((images - mean) / std).numpy()


def trained_model(name: str, images: int, epochs: int, cache: Path):
    """`name` trained by edgeship's loop on Fashion-MNIST at 3x224x224 (cached by settings and torch version),
    with its data (calibration from train, accuracy on 1000 test images)."""
    data = load_dataset(DataConfig(source=f"fashion-mnist:{DEFAULT_FASHION_DIR}", image_size=SIZE, channels=3,
                                   limit_train=images, limit_val=500, limit_test=1000))
    cfg = TrainConfig(epochs=epochs, lr=0.05, batch_size=32)
    model = build_model(name, 10, 3, SIZE, {})
    path = cache / f"int8-edge-{name}-{content_key(name, cfg.model_dump(), data.key, tool_versions('torch'))}.pt"
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
        print(f"trained {name}: cached in {path}", flush=True)
    else:
        t0 = time.perf_counter()
        train(model, data.train, data.val, cfg, seed=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
        print(f"trained {name}: {epochs} epochs on {len(data.train)} images in {time.perf_counter() - t0:.0f} s, "
              f"cached in {path}", flush=True)
    model.eval()
    print(f"trained {name}: torch test top-1 {accuracy(model, data.test):.2f}% on {len(data.test)} images",
          flush=True)
    return model, data


def build_files(name: str, fmt: str, model: torch.nn.Module, calib: CalibrationSet, work: Path) -> tuple[Path, Path]:
    """fp32 and int8 files (cached in work/name/fmt)."""
    backend = format_named(fmt)
    folder = work / name / fmt
    done = folder / "done.json"
    if done.is_file():
        files = json.loads(done.read_text())
        return folder / files["fp32"], folder / files["int8"]
    folder.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(calib.inputs[:1])
    t0 = time.perf_counter()
    fp32 = backend.export(model, example, folder, 17)
    t1 = time.perf_counter()
    int8 = backend.quantize(folder / fp32, model, example, calib, folder, QuantizeConfig(), [], "model-int8")
    backend.cleanup(folder)
    print(f"  {name} {fmt}: export {t1 - t0:.0f} s, int8 {time.perf_counter() - t1:.0f} s", flush=True)
    done.write_text(json.dumps({"fp32": fp32, "int8": int8}))
    return folder / fp32, folder / int8


def size_of(path: Path, fmt: str) -> int:
    return sum(p.stat().st_size for p in model_files(path, fmt))


def test_accuracy(fmt: str, path: Path, test) -> float:
    inputs, labels = test
    return evaluate(open_runner(format_named(fmt).runner, str(path), threads=2), inputs, labels)


def measure(name: str, fmt: str, fp32: Path, int8: Path, threads: int, seconds: float, test=None) -> dict:
    target = LocalTarget()
    paired = target.bench_many([(int8, fmt)], BenchRequest(eval_npz=None, threads=threads, warmup=5, min_runs=100,
                                                           min_seconds=seconds, max_seconds=120.0, timeout=900.0,
                                                           baseline_model=fp32))[0]
    alone = target.bench_many([(int8, fmt)], BenchRequest(eval_npz=None, threads=threads, warmup=3, min_runs=10,
                                                          min_seconds=0.0, timeout=900.0, profile=10))[0]
    for result in (paired, alone):
        if result.get("status") != "ok":
            raise RuntimeError(f"{name} {fmt} {threads}t: {result.get('error')}")
    speed = SpeedComparison.judge("fp32", "int8", "local", paired["baseline_timings_ms"], paired["timings_ms"],
                                  EQUAL_WITHIN)
    profile = alone.get("profile") or {}
    drop = test_accuracy(fmt, fp32, test) - test_accuracy(fmt, int8, test) if test is not None and threads == 1 \
        else None
    return {"model": name, "runtime": paired["runtime"], "threads": threads,
            "weights": "random" if test is None else "trained",
            "fp32_p50_ms": float(np.median(paired["baseline_timings_ms"])),
            "int8_p50_ms": float(np.median(paired["timings_ms"])),
            "speedup": 1.0 / speed.ratio, "ci95": [1.0 / speed.high, 1.0 / speed.low], "verdict": speed.verdict,
            "size_ratio": size_of(int8, fmt) / size_of(fp32, fmt), "peak_rss_mb": alone["peak_rss_mb"],
            "cold_start_ms": alone["cold_start_ms"], "int8_time_share": profile.get("int8_time_share"),
            "drop_pt": drop, "float_layers": profile.get("float_layers"), "int8_layers": profile.get("int8_layers"),
            "slowest_float": _slowest_float(profile), "profile_note": profile.get("note")}


def _slowest_float(profile: dict) -> list[str]:
    """The float layers that cost the most: what a missed goal is explained by."""
    layers = [x for x in profile.get("layers", []) if x["precision"] in ("float", "bf16", "convert")]
    return [f"{x['type']} {x['kernel']} {x['ms']:.3f} ms" for x in layers[:3] if x["ms"] is not None]


SWEEP = ([("openvino", {"bias_correction": b}, n) for b in ("none", "fast", "full") for n in (32, 128)]
         + [("onnx", {"per_channel": pc}, n) for pc in (True, False) for n in (32, 128)])


def fidelity(fmt: str, fp32: Path, int8: Path, held_out: np.ndarray) -> tuple[float, float]:
    """Output SQNR (dB) and top-1 agreement (%) of the int8 file against its fp32 file on held-out images."""
    from edgeship.pipeline.formats.layer_error import sqnr_db

    runners = [open_runner(format_named(fmt).runner, str(p), threads=2) for p in (fp32, int8)]
    outs = [np.concatenate([r(held_out[i:i + 1]) for i in range(len(held_out))]) for r in runners]
    agree = float((outs[0].argmax(1) == outs[1].argmax(1)).mean() * 100.0)
    return sqnr_db(torch.from_numpy(outs[0]), torch.from_numpy(outs[1])), agree


def sweep(name: str, model: torch.nn.Module, images: np.ndarray, held_out: np.ndarray, work: Path,
          test=None) -> list[dict]:
    """Calibration and algorithm settings against output fidelity (and test accuracy drop for a trained model):
    NNCF bias correction none / fast / full, onnxruntime per-channel against per-tensor weights, 32 and 128
    calibration images."""
    rows = []
    for fmt, update, count in SWEEP:
        backend = format_named(fmt)
        folder = work / "sweep" / name / fmt
        folder.mkdir(parents=True, exist_ok=True)
        example = torch.from_numpy(images[:1])
        fp32 = folder / backend.export(model, example, folder, 17)
        calib = CalibrationSet(images[:count], np.arange(count), f"smooth-random-{count}")
        t0 = time.perf_counter()
        int8 = folder / backend.quantize(fp32, model, example, calib, folder, QuantizeConfig(**update), [], "int8")
        seconds = time.perf_counter() - t0
        db, agree = fidelity(fmt, fp32, int8, held_out)
        drop = test_accuracy(fmt, fp32, test) - test_accuracy(fmt, int8, test) if test is not None else None
        setting = ", ".join(f"{k}={v}" for k, v in update.items())
        rows.append({"model": name, "runtime": fmt, "setting": setting, "calibration": count, "sqnr_db": db,
                     "top1_agreement": agree, "drop_pt": drop, "seconds": seconds})
        print(f"  sweep {name} {fmt:<9}{setting:<24} calib {count:>4}: output SQNR {db:6.2f} dB, top-1 agreement "
              f"{agree:6.2f}%" + (f", test drop {drop:+.2f} pt" if drop is not None else "")
              + f", quantize {seconds:.0f} s", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--calibration", type=int, default=64, help="calibration images")
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum paired timing per row")
    parser.add_argument("--work", type=Path, default=Path("/tmp/edgeship-int8-edge"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--build-only", action="store_true", help="export and quantize into --work, time nothing")
    parser.add_argument("--trained", metavar="MODEL", default="mobilenet_v2",
                        help="also train this model on Fashion-MNIST at 224 px for the accuracy column ('none': skip)")
    parser.add_argument("--train-images", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sweep", action="store_true", help="also sweep calibration settings (bias correction, "
                        "per-channel, calibration count) on the trained model (else the first random one)")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "edgeship" / "benchmarks")
    args = parser.parse_args()
    opt_out_of_openvino_telemetry()
    torch.set_num_threads(2)
    start = time.perf_counter()
    images = calibration_images(args.calibration)
    calib = CalibrationSet(images, np.arange(len(images)), f"smooth-random-{len(images)}")
    threads = [int(t) for t in args.threads.split(",")]
    print(f"3x{SIZE}x{SIZE}, random weights, {len(images)} calibration images; paired timing >= {args.seconds} s "
          f"per row; work {args.work}", flush=True)
    rows = []
    for name in [m for m in args.models.split(",") if m and m != "none"]:  # --models none: the trained one only
        model = random_model(name, torch.from_numpy(images))
        for fmt in args.formats.split(","):
            try:
                fp32, int8 = build_files(name, fmt, model, calib, args.work)
                if args.build_only:
                    continue
                rows += [measure(name, fmt, fp32, int8, t, args.seconds) for t in threads]
            except Exception as err:  # one model/runtime that cannot convert is a row, not the end of the run
                print(f"  {name} {fmt}: FAILED {type(err).__name__}: {str(err).splitlines()[0][:200]}", flush=True)
                rows.append({"model": name, "runtime": fmt, "error": str(err).splitlines()[0][:300]})
                continue
            for r in rows[-len(threads):]:
                print(f"  {name:<19}{r['runtime']:<15}{r['threads']}t  fp32 {r['fp32_p50_ms']:8.2f} ms  int8 "
                      f"{r['int8_p50_ms']:8.2f} ms  x{r['speedup']:.2f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]  "
                      f"size x{r['size_ratio']:.2f}  RSS {r['peak_rss_mb']:.0f} MB  cold {r['cold_start_ms']:.0f} ms"
                      f"  int8 time {_pct(r['int8_time_share'])}", flush=True)
    trained = None
    if args.trained != "none" and not args.build_only:
        model, data = trained_model(args.trained, args.train_images, args.epochs, args.cache_dir)
        train_inputs = data.train.sample(128, 0).inputs()
        test = data.test.inputs_and_targets()
        name = f"{args.trained} (trained)"
        t_calib = CalibrationSet(train_inputs[:args.calibration], np.arange(args.calibration), f"fashion-{name}")
        for fmt in args.formats.split(","):
            fp32, int8 = build_files(f"trained-{args.trained}", fmt, model, t_calib, args.work)
            rows += [measure(name, fmt, fp32, int8, t, args.seconds, test) for t in threads]
        trained = (name, model, train_inputs, test)
    print_table(rows)
    sweep_rows = []
    if args.sweep and trained:
        name, model, train_inputs, test = trained
        sweep_rows = sweep(name, model, train_inputs, test[0][:256], args.work, test)
    elif args.sweep:
        name = args.models.split(",")[0] if args.models != "none" else MODELS[0]
        sweep_rows = sweep(name, random_model(name, torch.from_numpy(images)), calibration_images(128),
                           calibration_images(256, seed=1), args.work)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "int8_edge.json").write_text(json.dumps({"rows": rows, "sweep": sweep_rows}, indent=2))
    return 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def print_table(rows: list[dict]) -> None:
    print(f"\n{'model':<26}{'runtime':<13}{'thr':>4}{'fp32 ms':>9}{'int8 ms':>9}{'speed-up [95%]':>22}{'size':>6}"
          f"{'RSS MB':>8}{'cold ms':>9}{'int8 time':>10}  goal (>=2x, <=0.3x size)")
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<26}{r['runtime']:<13}  failed: {r['error'][:80]}")
            continue
        met = r["ci95"][0] >= 2.0 and r["size_ratio"] <= 0.3
        why = "" if met else ("  slowest float: " + "; ".join(r["slowest_float"]) if r["slowest_float"] else "")
        drop = "" if r["drop_pt"] is None else f"  drop {r['drop_pt']:+.2f} pt"
        print(f"{r['model']:<26}{r['runtime']:<13}{r['threads']:>4}{r['fp32_p50_ms']:>9.2f}{r['int8_p50_ms']:>9.2f}"
              f"{r['speedup']:>8.2f}x [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]{r['size_ratio']:>6.2f}"
              f"{r['peak_rss_mb']:>8.0f}{r['cold_start_ms']:>9.0f}{_pct(r['int8_time_share']):>10}  "
              f"{'met' if met else 'missed'}{drop}{why}")


if __name__ == "__main__":
    sys.exit(main())
