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

from benchmarks.method_table import chosen_methods, print_below_scratch, print_gains, print_over_kd, seeded_runs  # noqa: E402
from pipeline.config.recipe import DataConfig, DistillConfig, TrainConfig  # noqa: E402
from pipeline.core.keys import content_key, tool_versions  # noqa: E402
from pipeline.core.plugins import METHODS as METHODS_REGISTRY  # noqa: E402
from pipeline.data.datasets import DEFAULT_FASHION_DIR, load_dataset  # noqa: E402
from pipeline.distillation.deep_to_shallow import ShallowExits  # noqa: E402
from pipeline.distillation.distiller import Distiller  # noqa: E402
from pipeline.distillation.exits import find_exits  # noqa: E402
from pipeline.distillation.online import MutualLearning  # noqa: E402
from pipeline.distillation.search import SCRATCH, Candidate, candidates, successive_halving, trial_images  # noqa: E402
from pipeline.models.zoo import build_model, count_macs_params  # noqa: E402
from pipeline.training.loop import accuracy, train  # noqa: E402

TEACHER = ("cifar_resnet8", {"width": 16})
STUDENT = ("simple_cnn", {"width": 8, "depth": 2})
# Layer pairs as the CRD benchmark places them: hints on the middle block (teacher layer2, student block 2, both
# 14x14), attention and VID on both blocks, relation and contrastive methods on the penultimate (pooled) features.
MID = [{"teacher": "layer2", "student": "features.6"}]
BOTH = [{"teacher": "layer1", "student": "features.2"}, *MID]
PENULTIMATE = [{"teacher": "pool", "student": "pool"}]
PAIRS = {"fitnets": MID, "at": BOTH, "sp": MID, "rkd": PENULTIMATE, "pkt": PENULTIMATE, "vid": BOTH,
         "crd": PENULTIMATE}
# The CRD benchmark's settings: feature methods train with CE + beta * their loss, no KD term; beta is each
# method's default (auto: balanced against CE on the first batches; --beta paper: the published weights).
METHODS = {"scratch": None, "kd": DistillConfig(method="kd", temperature=4.0, alpha=0.9),
           **{m: DistillConfig(method=m, alpha=0.0, layers=pairs) for m, pairs in PAIRS.items()},
           "dkd": DistillConfig(method="dkd", alpha=0.0, temperature=4.0, dkd_alpha=1.0, dkd_beta=8.0, dkd_warmup=2),
           "dist": DistillConfig(method="dist", alpha=0.0, temperature=4.0)}
# The same methods as a user's recipe gets them by default: beside Hinton KD (alpha 0.9, T 4), beta: auto.
BESIDE_KD = {f"{m}+kd": DistillConfig(method=m, alpha=0.9, temperature=4.0, layers=pairs) for m, pairs in PAIRS.items()}
METHODS |= BESIDE_KD
# The default table: the feature methods as a recipe's defaults give them (the X+kd rows), DKD and DIST as their
# papers use them (no KD term); the feature methods alone (the CRD benchmark's convention): --methods fitnets,at,...
DEFAULT_METHODS = ",".join(["scratch", "kd", *BESIDE_KD, "dkd", "dist"])
SCHEMES = ("online", "self", "deep_to_shallow")  # self: born-again

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


def trained_teacher(data, args, size: int) -> tuple[torch.nn.Module, float]:
    cfg = TrainConfig(epochs=args.teacher_epochs, lr=0.05, batch_size=128)
    key = content_key(TEACHER, cfg.model_dump(), data.key, tool_versions("torch"))
    folder = Path(args.cache_dir) / f"fashion-teacher-{key}"
    model = build_model(TEACHER[0], data.num_classes, 1, size, TEACHER[1])
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


class Setup:
    """One teacher-student pair on one dataset: trains students with any method or scheme, per seed."""

    def __init__(self, data, teacher, student: tuple[str, dict], size: int, epochs: int, args):
        self.data, self.teacher, self.student, self.size, self.args = data, teacher, student, size, args
        self.train_cfg = TrainConfig(epochs=epochs, lr=0.05, batch_size=128,
                                     warmup_epochs=1.0 if student[0] == "mobilenet_v2" else 0.0)
        self.example = torch.zeros(1, 1, size, size)
        self.teacher_val = accuracy(teacher, data.val)
        self.scratch: dict[int, torch.nn.Module] = {}  # each seed's scratch student: born-again's first teacher

    def new_student(self, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return build_model(self.student[0], self.data.num_classes, 1, self.size, self.student[1])

    def with_beta(self, cfg: DistillConfig | None) -> DistillConfig | None:
        if cfg is None:
            return None
        beta = self.args.beta if self.args.beta in ("auto", "paper") else float(self.args.beta)
        return cfg.model_copy(update={"beta": beta, "beta_schedule": self.args.beta_schedule,
                                      **({"balance": self.args.balance} if self.args.balance else {})})

    def fit(self, seed: int, make_distiller, split=None, epochs: int | None = None) -> tuple[torch.nn.Module, list]:
        """A student trained from seed; make_distiller(student) gives its distiller (None: from scratch)."""
        student = self.new_student(seed)
        distiller = make_distiller(student) if make_distiller else None
        cfg = self.train_cfg if epochs is None else self.train_cfg.model_copy(update={"epochs": epochs})
        history = train(student, split or self.data.train, self.data.val, cfg, seed=seed, distiller=distiller)
        if distiller is not None:
            distiller.close()
        return student, history

    def run(self, name: str, cfg: DistillConfig | None) -> dict:
        cfg, chosen = self.with_beta(cfg), []

        def one(seed: int) -> tuple[float, float]:
            start = time.perf_counter()
            make = (lambda s: Distiller(self.teacher, s, cfg, self.example, teacher_accuracy=self.teacher_val)
                    ) if cfg else None
            student, history = self.fit(seed, make)
            if cfg is None:
                self.scratch[seed] = student
            elif history and history[-1].get("beta") is not None:
                chosen.append(history[-1]["beta"])
            return accuracy(student, self.data.test), (time.perf_counter() - start) / len(history)

        row = seeded_runs(name, self.args.seeds, one)
        if chosen:
            row["beta"] = chosen
            print(f"  {name} beta ({cfg.beta}): " + ", ".join(f"{b:.4g}" for b in chosen), flush=True)
        return row

    def run_scheme(self, scheme: str) -> dict:
        kd = METHODS["kd"]

        def one(seed: int) -> tuple[float, float]:
            start = time.perf_counter()
            if scheme == "online":  # deep mutual learning with one peer of the student's architecture
                peer = self.new_student(seed + 100)
                dml = kd.model_copy(update={"temperature": None})  # the paper's T = 1
                student, history = self.fit(seed, lambda s: MutualLearning([peer], dml))
            elif scheme == "deep_to_shallow":  # classifiers on the shallow stages learn from the final output
                within = DistillConfig(scheme="self", self_mode="deep_to_shallow")
                student, history = self.fit(seed, lambda s: ShallowExits(s, find_exits(s, self.example),
                                                                         self.data.num_classes, within))
            else:  # born-again: the seed's scratch student teaches generation 1
                first = self.scratch[seed]
                student, history = self.fit(seed + 1, lambda s: Distiller(first, s, kd, self.example))
            return accuracy(student, self.data.test), (time.perf_counter() - start) / len(history)

        row = seeded_runs(scheme, self.args.seeds, one)
        return {"scheme": scheme, **{k: row[k] for k in ("mean", "std", "seeds", "seconds_per_epoch")}}

    def search(self, budget: int) -> dict:
        """Successive halving over the registry's grid (layer pairs per method as above) on the validation split,
        then the pick trained fully over the seeds."""
        order = torch.randperm(len(self.data.train), generator=torch.Generator().manual_seed(0)).numpy()

        def run_trial(cand: Candidate, epochs: float) -> float:
            split, whole = trial_images(self.data.train, epochs, order)
            cfg = None if cand.method == SCRATCH else DistillConfig(
                **cand.settings(), layers=PAIRS.get(cand.method, []), dkd_warmup=2)
            make = (lambda s: Distiller(self.teacher, s, cfg, self.example, teacher_accuracy=self.teacher_val)
                    ) if cfg else None
            student, _ = self.fit(0, make, split, whole)
            return accuracy(student, self.data.val)

        grid = candidates(dict(METHODS_REGISTRY.items()), "classification", True)
        result = successive_halving(grid, run_trial, self.train_cfg.epochs, time_budget=budget,
                                    say=lambda line: print(line, flush=True))
        print(f"search: {len(result.trials)} trials in {result.seconds:.0f} s, pick {result.pick.label()}",
              flush=True)
        cand = result.pick
        cfg = None if cand.method == SCRATCH else DistillConfig(**cand.settings(), layers=PAIRS.get(cand.method, []),
                                                                 dkd_warmup=2)
        started = time.perf_counter()
        row = self.run(f"pick: {cand.label()}", cfg)
        one_training = (time.perf_counter() - started) / self.args.seeds
        # what a user pays: the trials and one full training of the pick (the other seeds only measure it)
        return {"pick": cand.label(), "mean": row["mean"], "std": row["std"],
                "seconds": result.seconds + one_training, "search_seconds": result.seconds,
                "timed_out": result.timed_out, "trials": [vars(t) for t in result.trials]}


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
    scheme_rows = timed("schemes", parts, lambda: [cnn.run_scheme(s) for s in schemes])
    for row in scheme_rows:
        print(f"scheme {row['scheme']:<16}{row['mean']:>8.2f} ± {row['std']:.2f}  "
              f"({row['mean'] - rows[0]['mean']:+.2f} over scratch)")
    if scheme_rows:
        below += print_below_scratch([rows[0], *({**r, "method": f"scheme {r['scheme']}"} for r in scheme_rows)])
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
    if methods is None or mobile is None or not set(schemes) <= set(SCHEMES):
        return 2
    started, parts = time.perf_counter(), {}
    result = {} if args.mobilenet_only else small_cnn_parts(methods, schemes, args, parts)
    result["mobilenet_v2"] = {"methods": timed("mobilenet_v2", parts, lambda: mobilenet_rows(mobile, args))
                              if mobile else []}
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


def mobilenet_rows(methods: list[str], args) -> list[dict]:
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
    print_below_scratch(rows)
    return rows


if __name__ == "__main__":
    sys.exit(main())
