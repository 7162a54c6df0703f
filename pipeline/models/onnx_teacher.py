"""A teacher that is not PyTorch: an ONNX file run by onnxruntime, giving logits for logit distillation (KD, DKD).
Feature methods need the teacher's inner layers, which an ONNX session does not expose: they are refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgeship.pipeline.core.infrastructure.errors import EdgeshipError


class OnnxTeacher(nn.Module):
    def __init__(self, path: Path, field: str = "teacher.checkpoint"):
        super().__init__()
        import onnxruntime as ort

        if not Path(path).is_file():
            raise EdgeshipError(f"{field}: ONNX teacher not found: {path}")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            raise EdgeshipError(f"{field}: {path} is not an ONNX model onnxruntime can load "
                                f"({' '.join(str(err).split())[:200]})") from None
        meta = self.session.get_inputs()[0]
        self.input_name, self.input_shape = meta.name, list(meta.shape)
        self.batch_one = self.input_shape[:1] == [1]  # a static batch of 1: run image by image

    def check(self, channels: int, size: list[int], num_classes: int, field: str = "teacher.checkpoint") -> None:
        """The file must take the data's (C, H, W) and give one logit per class."""
        expected = [channels, *size]
        fixed = [d if isinstance(d, int) else None for d in self.input_shape[1:]]
        if len(fixed) != 3 or any(f is not None and f != e for f, e in zip(fixed, expected)):
            raise EdgeshipError(f"{field}: the ONNX teacher takes input {self.input_shape}, the data gives "
                                f"[N, {', '.join(map(str, expected))}]")
        out = self(torch.zeros(1, *expected))
        if out.dim() != 2 or out.shape[1] != num_classes:
            raise EdgeshipError(f"{field}: the ONNX teacher outputs shape {list(out.shape)}, the data has "
                                f"{num_classes} classes")

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.detach().float().cpu().numpy()
        if self.batch_one:
            outs = [self.session.run(None, {self.input_name: batch[i:i + 1]})[0] for i in range(len(batch))]
            out = np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
        else:
            out = self.session.run(None, {self.input_name: batch})[0]
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).to(x.device)
