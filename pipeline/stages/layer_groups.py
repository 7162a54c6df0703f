"""The latency-budget search's moves: Torch-Pruning's dependency groups (layers whose channels must be pruned
together), one at a time. One dependency graph serves the whole search: a candidate is a copy of the model with one
group's channels removed, made by replaying the group's own pruning functions on the copy's modules (a graph per
candidate would cost seconds each); the move chosen is then applied to the model through the graph, which stays
valid across steps as it does for Torch-Pruning's iterative pruning.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from edgeship.pipeline.stages.prune import PruningSetup, aligned_kept


@dataclass(frozen=True)
class Move:
    """Remove `idxs` (the least important by L1 magnitude) of the output channels of the group rooted at `root`."""
    root: str
    channels: int   # the group's channels now
    idxs: tuple[int, ...]

    @property
    def kept(self) -> int:
        return self.channels - len(self.idxs)

    def describe(self) -> str:
        return f"{self.root}: {self.channels} -> {self.kept} channels"


@dataclass(frozen=True)
class Joint:
    """Moves of several groups made in one step: a budget far below what one group's largest move saves needs
    them (one group of a MobileNetV2's 17 held 2-5% of its latency). `label` names it where listing every group
    would not read (every group by one share)."""
    moves: tuple[Move, ...]
    label: str = ""

    def describe(self) -> str:
        if self.label:
            return f"{self.label} ({len(self.moves)} groups)"
        return " + ".join(m.describe() for m in self.moves)


def parts(move: Move | Joint) -> tuple[Move, ...]:
    return move.moves if isinstance(move, Joint) else (move,)


# The fewest channels a search move leaves a group: torchvision's own narrowest (its MobileNet, MNASNet and
# EfficientNet widths are multiples of 8, at least 8). A MobileNetV2 expansion group the search took from 40 to 4
# channels, then to 1, still carried 68% fine-tuned, but that architecture trained from scratch stayed at chance.
MIN_CHANNELS = 8


def channel_floor(round_to: int) -> int:
    """The fewest channels a move leaves a group: MIN_CHANNELS rounded up to prune.round_to."""
    return -(-MIN_CHANNELS // round_to) * round_to


@dataclass(frozen=True)
class GroupOrder:
    """One dependency group: its root layer and its channels from least to most important (L1 magnitude), so a
    move of any size is the first `count` of them; the channels a move keeps are rounded as prune.round_to says."""
    root: str
    order: tuple[int, ...]
    round_to: int = 1

    @property
    def channels(self) -> int:
        return len(self.order)

    def move(self, count: int) -> Move:
        """Remove at least `count` channels (fewer than all), the kept ones rounded (prune.round_to), never
        leaving fewer than MIN_CHANNELS (rounded up to prune.round_to): at that floor the move removes nothing."""
        kept = aligned_kept(self.channels - min(self.channels - 1, max(1, count)), self.round_to)
        if kept < MIN_CHANNELS:
            kept = min(self.channels, channel_floor(self.round_to))
        return Move(self.root, self.channels, tuple(sorted(self.order[:self.channels - kept])))


def _replay(dep, twin, idxs):
    """What Torch-Pruning's Dependency.__call__ does to its own target, done to the twin's."""
    from torch_pruning import _helpers

    dep.handler.__self__.pruning_dim = dep.target.pruning_dim
    if len(idxs) and isinstance(idxs[0], _helpers._HybridIndex):
        idxs = _helpers.to_plain_idxs(idxs)
    return dep.handler(twin, idxs)


class LayerGroups:
    def __init__(self, model: nn.Module, example: torch.Tensor, setup: PruningSetup):
        import torch_pruning as tp

        self.model, self.setup = model, setup
        self.graph = tp.DependencyGraph().build_dependency(
            model.eval(), example, unwrapped_parameters=setup.unwrapped or None,
            customized_pruners=setup.customized or None)  # ignored layers are left out of groups, not of the graph
        self.importance = tp.importance.MagnitudeImportance(p=1)

    def _groups(self):
        return self.graph.get_all_groups(ignored_layers=self.setup.ignored, root_module_types=[nn.Conv2d, nn.Linear])

    def orders(self, macs_of: dict[str, int], limit: int) -> list[GroupOrder]:
        """The `limit` groups with the most MACs (`macs_of`: root module name -> MACs of the layers it touches)
        that still have channels to give, each with its channels by importance."""
        names = {id(m): n for n, m in self.model.named_modules()}
        found = []
        for group in self._groups():
            root = group[0][0].target.module
            out_channels = self.graph.get_pruner_of_module(root).get_out_channels(root)
            if out_channels <= channel_floor(self.setup.round_to) or id(root) not in names:  # nothing to remove
                continue
            scores = self.importance(group)
            if scores is not None:
                found.append(GroupOrder(names[id(root)], tuple(int(i) for i in torch.argsort(scores)),
                                        self.setup.round_to))
        found.sort(key=lambda g: -macs_of.get(g.root, 0))
        return found[:limit]

    def moves(self, share: float, macs_of: dict[str, int], limit: int) -> list[Move]:
        """For each of those groups, the move that removes `share` of its channels."""
        return [m for m in (g.move(round(share * g.channels)) for g in self.orders(macs_of, limit)) if m.idxs]

    def _group_of(self, move: Move):
        root = dict(self.model.named_modules())[move.root]
        return self.graph.get_pruning_group(root, self.graph.get_pruner_of_module(root).prune_out_channels,
                                            list(move.idxs))

    def _merged(self, move: Move | Joint) -> list:
        """(dependency, channel indices) of every group `move` prunes, one entry per layer and pruning function:
        all indices are read from the untouched graph, so a layer two groups reach (a concat's consumer) loses
        both groups' channels at once, at the offsets they had before either was pruned."""
        from torch_pruning import _helpers

        merged: dict = {}
        for part in parts(move):
            for dep, idxs in self._group_of(part):
                key = (id(dep.target.module), getattr(dep.handler, "__func__", dep.handler), dep.target.pruning_dim)
                plain = set(_helpers.to_plain_idxs(idxs))
                merged[key] = (dep, merged[key][1] | plain) if key in merged else (dep, plain)
        return [(dep, sorted(idxs)) for dep, idxs in merged.values()]

    def candidate(self, move: Move | Joint) -> nn.Module:
        """A copy of the model with `move` applied; the model itself is untouched. Torch-Pruning's bookkeeping
        of its own graph (concat and split offsets) is not replayed: the copy has no graph."""
        names = {id(m): n for n, m in self.model.named_modules()}
        params = {id(p): n for n, p in self.model.named_parameters()}
        twin = copy.deepcopy(self.model)
        twins = dict(twin.named_modules())
        for dep, idxs in self._merged(move):
            target = dep.target.module
            if isinstance(target, nn.Parameter) and id(target) in params:  # a parameter outside any layer
                owner, _, attribute = params[id(target)].rpartition(".")
                pruned = _replay(dep, getattr(twins[owner], attribute), idxs)
                setattr(twins[owner], attribute, pruned)
            elif isinstance(target, nn.Module) and id(target) in names:
                _replay(dep, twins[names[id(target)]], idxs)
        return twin

    def apply(self, move: Move | Joint) -> None:
        """Prune the model itself by `move` (through the graph, which follows: a group's indices are its root's
        own channels, which pruning another group leaves as they were)."""
        for part in parts(move):
            self._group_of(part).prune()
