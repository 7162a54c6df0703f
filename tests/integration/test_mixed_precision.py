"""The mixed-precision training path (autocast, fp16's gradient scaler, channels-last activations) on the CPU: the
same code CUDA runs with train.amp, exercised where CI can (torch autocasts on the CPU too), with every kind of
distillation loss."""
import numpy as np
import pytest
import torch

from edgeship.pipeline.config.recipe import DataConfig, DistillConfig, TrainConfig
from edgeship.pipeline.core.contracts.tasks import task_named
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.distillation.distiller import Distiller
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.training.devices import TrainingDevice
from edgeship.pipeline.training.loop import accuracy, train

PAIRS = [{"teacher": "layer2", "student": "features.6"}]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(source="digits", mean=[0.3], std=[0.4]))


@pytest.fixture(scope="module")
def teacher(digits):
    model = build_model("cifar_resnet8", 10, 1, 8, {"width": 8})
    train(model, digits.train, digits.val, TrainConfig(epochs=2, lr=0.05), seed=0)
    return model.eval()


def _student():
    torch.manual_seed(0)
    return build_model("simple_cnn", 10, 1, 8, {"width": 8, "depth": 2})


def _conv_dtypes(model: torch.nn.Module) -> set[torch.dtype]:
    """Record the dtype the student's first convolution computes in while training."""
    seen: set[torch.dtype] = set()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype) if torch.is_grad_enabled() else None)
    return seen


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_scratch_training_in_mixed_precision_matches_full_precision(digits, dtype):
    full = _student()
    train(full, digits.train, digits.val, TrainConfig(epochs=8, lr=0.05), seed=0)
    mixed = _student()
    seen = _conv_dtypes(mixed)
    history = train(mixed, digits.train, digits.val, TrainConfig(epochs=8, lr=0.05), seed=0,
                    run_on=TrainingDevice(CPU, dtype))
    assert seen == {dtype}  # autocast really ran the convolutions in half precision
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in mixed.parameters())  # fp32 masters
    assert np.isfinite(history[-1]["loss"])
    full_acc, mixed_acc = accuracy(full, digits.test), accuracy(mixed, digits.test)
    assert mixed_acc >= 85.0 and abs(full_acc - mixed_acc) <= 3.0, (full_acc, mixed_acc)


@pytest.mark.parametrize("method, extra", [("kd", {}), ("fitnets", {"layers": PAIRS}), ("crd", {"layers": PAIRS}),
                                           ("vid", {"layers": PAIRS}),
                                           ("dkd", {"alpha": 0.0, "options": {"warmup": 1}})])
def test_each_kind_of_distillation_loss_trains_under_autocast(digits, teacher, method, extra):
    student = _student()
    seen = _conv_dtypes(student)
    distiller = Distiller(teacher, student, DistillConfig(method=method, **extra), torch.zeros(1, 1, 8, 8))
    history = train(student, digits.train, digits.val, TrainConfig(epochs=3, lr=0.01, optimizer="adam"), seed=0,
                    distiller=distiller, run_on=TrainingDevice(CPU, torch.bfloat16, channels_last=True))
    distiller.close()
    assert seen == {torch.bfloat16}
    assert all(np.isfinite(row["loss"]) for row in history)
    if method != "kd":
        assert history[-1][method] > 0  # the method's own term took part
    assert all(torch.isfinite(p).all() for p in student.parameters())
    assert accuracy(student, digits.test) > 25.0  # learning, well above chance (10%) after three short epochs


def test_segmentation_distillation_trains_under_autocast():
    """Dense outputs (per-pixel CE, CWD's per-channel spatial softmax) in bf16 with channels-last maps."""
    task = task_named("segmentation")
    data = load_dataset(DataConfig(source="scenes", image_size=24, mean=[0.2], std=[0.3],
                                   scenes={"count": 300, "max_items": 3}))
    run_on = TrainingDevice(CPU, torch.bfloat16, channels_last=True)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.005, optimizer="adam", weight_decay=0)
    teacher = build_model("unet", data.num_classes, 1, 24, {"width": 8, "depth": 2})
    train(teacher, data.train, data.val, cfg, seed=0, task=task, run_on=run_on)
    torch.manual_seed(0)
    student = build_model("unet", data.num_classes, 1, 24, {"width": 4, "depth": 2})
    before = [p.detach().clone() for p in student.parameters()]
    seen = _conv_dtypes(student)
    distiller = Distiller(teacher.eval(), student, DistillConfig(method="cwd", alpha=0.5, temperature=2.0),
                          torch.zeros(1, 1, 24, 24), task.loss)
    history = train(student, data.train, data.val, cfg, seed=0, distiller=distiller, task=task, run_on=run_on)
    distiller.close()
    assert seen == {torch.bfloat16}
    assert all(np.isfinite(row["loss"]) and row["cwd"] > 0 for row in history)
    assert all(torch.isfinite(p).all() for p in student.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, student.parameters()))
    assert np.isfinite(accuracy(student, data.test, task))
