"""Batch norms folded before a converter sees the model: the same function, every convolution kept by name, and
a convolution shared between calls (a pyramid head's, with a norm per level) left as it is."""
import torch
from torch import nn

from edgeship.pipeline.formats.batch_norm_fold import batch_norms_folded


class SharedHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.stem_bn = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.shared, self.bn_a, self.bn_b = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.BatchNorm2d(4)

    def forward(self, x):
        x = torch.relu(self.stem_bn(self.stem(x)))
        return self.bn_a(self.shared(x)), self.bn_b(self.shared(x[:, :, ::2, ::2]))


def _trained_statistics(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # statistics far from the identity a fresh norm has
            m.running_mean.uniform_(-2, 2), m.running_var.uniform_(0.5, 4), m.weight.data.uniform_(0.5, 2)
    return model.eval()


def test_a_norm_after_a_convolution_called_once_is_folded_and_a_shared_one_is_not():
    model = _trained_statistics(SharedHead())
    folded = batch_norms_folded(model, torch.zeros(1, 1, 8, 8))
    assert folded is not model and isinstance(folded.stem_bn, nn.Identity)
    assert isinstance(folded.bn_a, nn.BatchNorm2d) and isinstance(folded.bn_b, nn.BatchNorm2d)
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        for a, b in zip(model(x), folded(x)):
            assert torch.allclose(a, b, atol=1e-5)
    assert isinstance(model.stem_bn, nn.BatchNorm2d)  # the model itself is untouched


def test_a_model_with_nothing_to_fold_is_returned_as_it_is():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()).eval()
    assert batch_norms_folded(model, torch.zeros(1, 1, 8, 8)) is model
