"""The Fashion-MNIST distillation benchmark's pieces: teacher, student, layer pairs and methods as the CRD
benchmark places them, the cached teacher, and Setup (one teacher-student pair: methods, schemes, search)."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from benchmarks.method_table import seeded_runs
from edgeship.pipeline.config.recipe import DistillConfig, TrainConfig
from edgeship.pipeline.core.contracts.plugins import METHODS as METHODS_REGISTRY
from edgeship.pipeline.core.infrastructure.keys import content_key, tool_versions
from edgeship.pipeline.distillation.deep_to_shallow import ShallowExits
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.distillation.exits import find_exits
from edgeship.pipeline.distillation.online import MutualLearning
from edgeship.pipeline.distillation.search import SCRATCH, Candidate, candidates, successive_halving, trial_images
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.training.loop import accuracy, train

TEACHER = ("cifar_resnet8", {"width": 16})
STUDENT = ("simple_cnn", {"width": 8, "depth": 2})
# Layer pairs as the CRD benchmark places them: hints on the middle block (teacher layer2, student block 2, both
# 14x14), attention and VID on both blocks, relation and contrastive methods on the penultimate (pooled) features.
MID = [{"teacher": "layer2", "student": "features.6"}]
BOTH = [{"teacher": "layer1", "student": "features.2"}, *MID]
PENULTIMATE = [{"teacher": "pool", "student": "pool"}]
PAIRS = {"fitnets": MID, "at": BOTH, "sp": MID, "rkd": PENULTIMATE, "pkt": PENULTIMATE, "vid": BOTH,
         "crd": PENULTIMATE}
# DKD's ramp-up over 2 epochs, not the paper's 5: these runs are 3 to 5 epochs long.
DKD_SHORT = {"alpha": 1.0, "beta": 8.0, "warmup": 2}


def short_options(method: str) -> dict:
    return DKD_SHORT if method == "dkd" else {}


# The CRD benchmark's settings: feature methods train with CE + beta * their loss, no KD term; beta is each
# method's default (auto: balanced against CE on the first batches; --beta paper: the published weights).
METHODS = {"scratch": None, "kd": DistillConfig(method="kd", temperature=4.0, alpha=0.9),
           **{m: DistillConfig(method=m, alpha=0.0, layers=pairs) for m, pairs in PAIRS.items()},
           "dkd": DistillConfig(method="dkd", alpha=0.0, temperature=4.0, options=DKD_SHORT),
           "dist": DistillConfig(method="dist", alpha=0.0)}  # its default T (2)
# The same methods as a user's recipe gets them by default: beside Hinton KD (alpha 0.9, T 4), beta: auto.
BESIDE_KD = {f"{m}+kd": DistillConfig(method=m, alpha=0.9, temperature=4.0, layers=pairs) for m, pairs in PAIRS.items()}
METHODS |= BESIDE_KD
# The default table: the feature methods as a recipe's defaults give them (the X+kd rows), DKD and DIST as their
# papers use them (no KD term); the feature methods alone (the CRD benchmark's convention): --methods fitnets,at,...
DEFAULT_METHODS = ",".join(["scratch", "kd", *BESIDE_KD, "dkd", "dist"])
SCHEMES = ("online", "self", "deep_to_shallow")  # self: born-again


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
                **cand.settings(), layers=PAIRS.get(cand.method, []), options=short_options(cand.method))
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
                                                                 options=short_options(cand.method))
        started = time.perf_counter()
        row = self.run(f"pick: {cand.label()}", cfg)
        one_training = (time.perf_counter() - started) / self.args.seeds
        # what a user pays: the trials and one full training of the pick (the other seeds only measure it)
        return {"pick": cand.label(), "mean": row["mean"], "std": row["std"],
                "seconds": result.seconds + one_training, "search_seconds": result.seconds,
                "timed_out": result.timed_out, "trials": [vars(t) for t in result.trials]}
