"""Training on a CUDA GPU (train.device): runs where torch sees one, skips elsewhere (CI has no GPU)."""
import numpy as np
import pytest
import torch

from edgeship.pipeline.config.recipe import DataConfig, TrainConfig
from edgeship.pipeline.data.datasets import load_dataset
from edgeship.pipeline.models.zoo import build_model
from edgeship.pipeline.training.loop import accuracy, train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")]


def _trained(device: str, amp: bool) -> tuple[torch.nn.Module, float]:
    data = load_dataset(DataConfig(source="digits", mean=[0.3], std=[0.4]))
    torch.manual_seed(0)
    model = build_model("simple_cnn", 10, 1, 8, {"width": 16})
    train(model, data.train, data.val, TrainConfig(epochs=8, lr=0.05, device=device, amp=amp), seed=0)
    return model, accuracy(model, data.test)


def test_cuda_and_cpu_training_agree():
    cpu_model, cpu_acc = _trained("cpu", False)
    gpu_model, gpu_acc = _trained("cuda", False)
    assert next(gpu_model.parameters()).device.type == "cpu"  # back on the CPU for export
    assert abs(cpu_acc - gpu_acc) <= 2.0, (cpu_acc, gpu_acc)


def test_mixed_precision_learns():
    _, acc = _trained("cuda", True)
    assert acc >= 90.0
    assert np.isfinite(acc)
