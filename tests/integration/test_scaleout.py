"""Scale-out: training under torchrun + DistributedDataParallel (gloo, 2 processes on this CPU)."""
from __future__ import annotations

import pytest
import torch

from edgeship.pipeline.cli.launcher import run_on_ranks
from tests.support.ddp_ranks import train_on_rank, train_student

pytestmark = pytest.mark.slow  # torchrun launches of real rank processes (about 20 s); make test runs them


@pytest.mark.parametrize("method", ["scratch", "kd", "fitnets"])
def test_two_ranks_train_the_weights_one_process_trains(method, tmp_path):
    """Same global batch, same seed: the averaged gradients of the two shards are the whole batch's gradient,
    so the weights match to float rounding. The models have BatchNorm, whose statistics span the ranks (running
    statistics included). FitNets also covers its regressors (with their BatchNorm) and its hint epoch (the
    classifier gets no gradient). The last batch leaves one rank without images."""
    single = train_student(method)
    ranks = run_on_ranks(train_on_rank, (method,), 2, tmp_path)
    assert sorted(ranks) == [0, 1]
    for rank, state in ranks.items():
        assert state["world_size"] == 2 and state["rank"] == rank
        for name, expected in single.items():
            torch.testing.assert_close(state[name], expected, rtol=1e-4, atol=1e-5, msg=f"rank {rank} {name}")
            assert torch.equal(state[name], ranks[0][name]), f"ranks disagree on {name}"
