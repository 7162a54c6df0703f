"""Every distillation loss on hand-computable values."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edgeship.pipeline.distillation.feature import HintLoss, attention_loss, attention_map, match_spatial
from edgeship.pipeline.distillation.logit import dist_loss, dkd_loss, kd_loss
from edgeship.pipeline.distillation.relation import similarity_preserving_loss


def test_kd_loss_is_zero_when_student_equals_teacher():
    logits = torch.randn(8, 10)
    assert kd_loss(logits, logits.clone(), 4.0).item() == pytest.approx(0.0, abs=1e-6)


def test_kd_loss_matches_hand_computed_kl_times_t_squared():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[2.0, 0.0]])
    t = 2.0
    p = [math.exp(1) / (math.exp(1) + 1), 1 / (math.exp(1) + 1)]  # softmax([2,0]/2)
    kl = sum(pi * math.log(pi / 0.5) for pi in p)  # student at T is uniform
    assert kd_loss(student, teacher, t).item() == pytest.approx(kl * t * t, rel=1e-5)


def test_dkd_is_zero_for_equal_logits_and_splits_into_target_and_non_target_parts():
    logits = torch.randn(6, 5)
    labels = torch.randint(0, 5, (6,))
    assert dkd_loss(logits, logits.clone(), labels, 4.0, 1.0, 8.0).item() == pytest.approx(0.0, abs=1e-5)
    # Student and teacher agree on the target probability but order the other classes differently:
    # TCKD is zero, so alpha has no effect and the loss scales with beta alone.
    student = torch.tensor([[3.0, 1.0, 0.0]])
    teacher = torch.tensor([[3.0, 0.0, 1.0]])
    label = torch.tensor([0])
    only_nckd = dkd_loss(student, teacher, label, 1.0, alpha=0.0, beta=1.0).item()
    assert only_nckd > 0
    assert dkd_loss(student, teacher, label, 1.0, alpha=5.0, beta=2.0).item() == pytest.approx(2 * only_nckd, rel=1e-4)
    # hand value of NCKD: KL between softmax([1,0]) and softmax([0,1]) over the two non-target classes
    q_t = torch.softmax(torch.tensor([0.0, 1.0]), 0)
    q_s = torch.softmax(torch.tensor([1.0, 0.0]), 0)
    assert only_nckd == pytest.approx(float((q_t * (q_t / q_s).log()).sum()), rel=1e-4)


def test_hint_loss_falls_when_the_regressor_is_trained_on_fixed_features():
    torch.manual_seed(0)
    student = torch.randn(16, 4, 6, 6)
    teacher = torch.randn(16, 8, 3, 3)  # other channels and spatial size: regressor + pooling handle both
    loss_fn = HintLoss(4, 8)
    optimizer = torch.optim.Adam(loss_fn.parameters(), lr=0.05)
    first = loss_fn(student, teacher).item()
    for _ in range(100):
        optimizer.zero_grad()
        loss = loss_fn(student, teacher)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.8 * first


def test_attention_maps_are_normalized_and_loss_ignores_channel_count():
    x = torch.randn(2, 3, 4, 4)
    assert torch.allclose(attention_map(x).norm(dim=1), torch.ones(2))
    # same spatial energy pattern, different channel counts and scale: no loss
    base = torch.rand(2, 1, 4, 4)
    assert attention_loss(base.repeat(1, 5, 1, 1) * 3, base.repeat(1, 2, 1, 1)).item() == pytest.approx(0, abs=1e-7)
    assert attention_loss(torch.rand(2, 4, 8, 8), torch.rand(2, 4, 4, 4)).item() > 0


def test_match_spatial_pools_the_larger_map():
    s, t = match_spatial(torch.ones(1, 2, 8, 8), torch.ones(1, 3, 4, 4))
    assert s.shape[-2:] == t.shape[-2:] == (4, 4)


def test_similarity_preserving_loss_zero_for_same_relations():
    f = torch.randn(5, 3, 2, 2)
    assert similarity_preserving_loss(f, f * 7.0).item() == pytest.approx(0.0, abs=1e-7)
    # relations only: a student with other channels but the same Gram structure costs nothing either
    g = torch.cat([f, f], dim=1)
    assert similarity_preserving_loss(g, f).item() == pytest.approx(0.0, abs=1e-6)
    assert similarity_preserving_loss(torch.randn(5, 4), torch.randn(5, 9)).item() > 0


def test_cross_entropy_weight_is_one_minus_alpha():
    from edgeship.pipeline.config.recipe import DistillConfig
    from edgeship.pipeline.distillation.distiller import Distiller
    from tests.support.custom_model import tiny_mlp

    torch.manual_seed(0)
    teacher, student = tiny_mlp(3, 1, 4), tiny_mlp(3, 1, 4)
    x, y = torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    for alpha in (0.0, 1.0):
        d = Distiller(teacher, student, DistillConfig(alpha=alpha, temperature=3.0), x[:1])
        s_logits = student(x)
        total, parts = d.loss(s_logits, y, torch.arange(4), x, epoch=1)
        expected = F.cross_entropy(s_logits, y) if alpha == 0 else kd_loss(s_logits, teacher(x), 3.0)
        assert total.item() == pytest.approx(expected.item(), rel=1e-5)


def test_rkd_distance_loss_matches_hand_computed_normalized_distances():
    from edgeship.pipeline.distillation.relation import rkd_distance_loss

    student = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # distances 3, 4, 5: mean 4
    teacher = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # distances 1, 1, sqrt 2
    d_s = [3 / 4, 4 / 4, 5 / 4]
    mean_t = (2 + math.sqrt(2)) / 3
    d_t = [1 / mean_t, 1 / mean_t, math.sqrt(2) / mean_t]  # pairs (0,1), (0,2), (1,2) as in d_s
    # each pair twice in the 3x3 matrix, diagonal 0; |diff| < 1 so Huber is diff^2 / 2; mean over 9 entries
    expected = sum(2 * 0.5 * (a - b) ** 2 for a, b in zip(d_s, d_t)) / 9
    assert rkd_distance_loss(student, teacher).item() == pytest.approx(expected, rel=1e-5)
    assert rkd_distance_loss(10.0 * student, teacher).item() == pytest.approx(expected, rel=1e-5)  # scale-free
    maps = student.view(3, 2, 1, 1).expand(3, 2, 4, 4)  # feature maps pool to the same embeddings
    assert rkd_distance_loss(maps, teacher).item() == pytest.approx(expected, rel=1e-5)


def test_rkd_angle_loss_matches_hand_computed_angles():
    from edgeship.pipeline.distillation.relation import rkd_angle_loss

    right = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])   # a right angle at point 0, 45 degrees at 1 and 2
    line = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])    # collinear: cosines 1 or -1
    assert rkd_angle_loss(2.0 * right, right).item() == pytest.approx(0.0, abs=1e-7)
    r = 1 / math.sqrt(2)
    # differing cosine pairs, each twice: at 0: 1 vs 0 (Huber 0.5); at 1: -1 vs r (|d| > 1: |d| - 0.5);
    # at 2: 1 vs r (d^2 / 2); over all 27 (j, i, k) entries
    expected = 2 * (0.5 + (1 + r - 0.5) + 0.5 * (1 - r) ** 2) / 27
    assert rkd_angle_loss(line, right).item() == pytest.approx(expected, rel=1e-5)


def test_pkt_loss_is_kl_between_cosine_kernels():
    from edgeship.pipeline.distillation.relation import pkt_loss

    teacher = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # kernel rows (1, 0.5) -> (2/3, 1/3)
    student = torch.tensor([[1.0, 0.0], [2.0, 0.0]])  # all cosines 1 -> rows (1/2, 1/2)
    expected = 2 / 3 * math.log((2 / 3) / 0.5) + 1 / 3 * math.log((1 / 3) / 0.5)
    assert pkt_loss(student, teacher).item() == pytest.approx(expected, rel=1e-4)
    assert pkt_loss(teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)


def test_vid_gaussian_nll_matches_hand_computed_value():
    from edgeship.pipeline.distillation.information import VariationalRegressor, gaussian_nll

    # mean 0, target 2, variance 2: 0.5 * (log 2 + 4 / 2)
    value = gaussian_nll(torch.zeros(1, 1, 1, 1), torch.full((1, 1, 1, 1), 2.0), torch.full((1, 1, 1, 1), 2.0))
    assert value.item() == pytest.approx(0.5 * (math.log(2.0) + 2.0), rel=1e-6)
    regressor = VariationalRegressor(3, 4)
    variance = F.softplus(regressor.log_scale) + regressor.eps
    assert torch.allclose(variance, torch.full((4,), 5.0))  # the paper's code starts every channel at 5


def test_crd_nce_loss_matches_hand_computed_value():
    from edgeship.pipeline.distillation.information import nce_loss

    # one sample, K = 2 negatives, 10 training samples: K * Pn = 0.2
    scores = torch.tensor([[0.5, 0.1, 0.2]])
    hand = -(math.log(0.5 / 0.7) + math.log(0.2 / 0.3) + math.log(0.2 / 0.4))
    assert nce_loss(scores, samples=10).item() == pytest.approx(hand, rel=1e-6)


def test_crd_memory_holds_unit_rows_and_updates_only_the_batch():
    from edgeship.pipeline.distillation.information import ContrastiveMemory

    torch.manual_seed(0)
    memory = ContrastiveMemory(student_dim=6, teacher_dim=5, dim=8, negatives=4)
    memory.bind(20)
    before = memory.memory_teacher.clone()
    indices = torch.tensor([3, 7])
    loss = memory(torch.randn(2, 6, 2, 2), torch.randn(2, 5, 2, 2), indices)
    assert torch.isfinite(loss) and loss.item() > 0 and memory.z.gt(0).all()  # Z set on the first batch
    changed = (memory.memory_teacher != before).any(dim=1).nonzero().flatten().tolist()
    assert changed == [3, 7]
    assert torch.allclose(memory.memory_teacher[indices].norm(dim=1), torch.ones(2))
    loss.backward()
    assert memory.embed_student.weight.grad is not None and memory.embed_teacher.weight.grad is not None


def test_dist_is_inter_plus_intra_class_pearson_distance():
    p_s = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    p_t = torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]])
    # by hand: across the batch, classes 0 and 2 correlate perfectly (+1) and class 1 is constant (0): intra = 1/3;
    # within each image numpy's Pearson correlation gives inter
    inter = 1 - np.mean([np.corrcoef(p_s[i].numpy(), p_t[i].numpy())[0, 1] for i in range(2)])
    loss = dist_loss(p_s.log(), p_t.log(), temperature=1.0).item()  # log-probabilities: softmax gives p back
    assert loss == pytest.approx(inter + 1 / 3, rel=1e-4)
    logits = torch.randn(8, 5)
    assert dist_loss(logits, logits.clone(), 2.0).item() == pytest.approx(0.0, abs=1e-5)  # equal: no loss
    assert dist_loss(p_s.log(), (p_t * 7).log(), 1.0).item() == pytest.approx(loss, rel=1e-5)  # shift-invariant
