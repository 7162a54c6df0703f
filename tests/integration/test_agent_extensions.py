"""What a plug-in task or format adds to the agent travels inside its zipapp and runs on the device: a metric
that takes every output of a model, post-processes on the device (timed apart from inference) and scores a
variable number of targets per image; a runner for a runtime the agent does not know."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from edgeship.targets.agent_zipapp import agent_zipapp
from tests.integration.test_agent import isolated_python

SET_METRIC = textwrap.dedent('''
    """Which classes an image holds: the model's scores (output 0) and how many there are (output 1)."""
    import numpy as np


    class SetMatch:
        all_outputs = True

        def __init__(self):
            self.exact = self.seen = 0

        @staticmethod
        def postprocess(outputs):
            scores, count = outputs
            k = np.clip(np.rint(count[:, 0]), 0, scores.shape[1]).astype(int)
            order = np.argsort(-scores, axis=1)
            return [set(order[i, :k[i]].tolist()) for i in range(len(scores))]

        def update(self, predicted, targets):
            for guess, truth in zip(predicted, targets):
                self.exact += guess == set(truth.tolist())
                self.seen += 1

        def result(self):
            return {"accuracy": self.exact / max(1, self.seen) * 100.0, "images": self.seen}


    METRICS = {"set-match": SetMatch}
''')


class TwoOutputs(nn.Module):
    """Scores per class and a count: the classes are the image's brightest rows, the count how many exceed 0."""

    def forward(self, x):
        rows = x.mean(dim=(1, 3))  # (N, 4): one score per row of a 4x4 image
        return rows, (rows > 0).float().sum(1, keepdim=True)


@pytest.fixture(scope="module")
def two_output_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extensions")
    path = folder / "two.onnx"
    torch.onnx.export(TwoOutputs(), (torch.zeros(1, 1, 4, 4),), str(path), input_names=["input"],
                      output_names=["scores", "count"], dynamic_axes={"input": {0: "n"}}, dynamo=False,
                      opset_version=17)
    rng = np.random.default_rng(0)
    x = -np.ones((30, 1, 4, 4), np.float32)
    truths = []
    for i in range(30):
        lit = rng.choice(4, size=rng.integers(0, 4), replace=False)  # 0 to 3 classes per image
        x[i, 0, lit] = rng.uniform(0.5, 2.0, size=(len(lit), 1))
        truths.append(np.sort(lit).astype(np.int64))
    truths[0] = np.array([0, 1], np.int64)  # one wrong answer on purpose: row 0 and 1 of image 0 are both dark
    x[0] = -1.0
    offsets = np.cumsum([0] + [len(t) for t in truths])
    np.savez(folder / "eval.npz", inputs=x, labels=np.concatenate(truths), label_offsets=offsets,
             metric=np.str_("set-match"))
    (folder / "set_match.py").write_text(SET_METRIC)
    return path, folder


def run_agent(agent, model, eval_npz, *extra):
    argv = [str(agent), "--model", str(model), "--eval", str(eval_npz), "--min-runs", "5", "--min-seconds", "0",
            "--warmup", "1", *extra]
    proc = isolated_python(f"import runpy; sys.argv = {argv!r}; runpy.run_path({str(agent)!r}, run_name='__main__')")
    assert proc.stdout, proc.stderr[-1000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_task_metric_scores_every_output_and_a_variable_number_of_targets_on_the_device(two_output_model,
                                                                                            tmp_path):
    model, folder = two_output_model
    agent = agent_zipapp(cache=tmp_path, extensions=[folder / "set_match.py"])
    for batch in ("1", "256"):  # one image at a time and in batches: the same figures
        result = run_agent(agent, model, folder / "eval.npz", "--eval-batch", batch)
        assert result["status"] == "ok", result
        assert result["extensions"] == ["set_match"]
        assert result["images"] == 30 and result["accuracy"] == pytest.approx(29 / 30 * 100.0)
        assert result["eval_batch"] == (1 if batch == "1" else 30)
        # the post-processing is timed apart from inference, per image
        assert result["postprocess_ms"]["p50"] > 0 and result["preprocess_ms"]["p50"] >= 0


def test_without_the_extension_the_agent_names_the_metric_it_does_not_know(two_output_model, tmp_path):
    model, folder = two_output_model
    result = run_agent(agent_zipapp(cache=tmp_path, extensions=[]), model, folder / "eval.npz")
    assert result["status"] == "failed" and "unknown metric 'set-match'" in result["error"]


def test_a_format_runner_travels_with_the_agent(two_output_model, tmp_path):
    model, folder = two_output_model
    runner = Path(__file__).parents[1] / "plugins" / "toy_format_runner.py"
    agent = agent_zipapp(cache=tmp_path, extensions=[runner, folder / "set_match.py"])
    result = run_agent(agent, model, folder / "eval.npz", "--format", "onnx-preoptimized")
    assert result["status"] == "ok" and result["settings"] == {"graph_optimization": "off"}
    assert result["accuracy"] == pytest.approx(29 / 30 * 100.0)
