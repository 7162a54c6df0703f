"""Image transforms (torchvision.transforms.v2 on uint8 CHW tensors) and the preprocessing record that travels
with every artifact.

Evaluation: images of 64 px and more are resized on their shorter side to size/0.875 and center-cropped (the
field's ImageNet practice); smaller ones are resized to the exact size. Training augmentation: RandomResizedCrop +
horizontal flip (+ TrivialAugment on request) from 64 px up; random shifts for tiny images (applied per batch by
the training loop). Normalization (scale, mean, std) is applied to whole float batches, on the host and by the
device agent alike.
"""
from __future__ import annotations

import numpy as np
import torch

CROP_RATIO = 0.875
LARGE_IMAGE = 64  # from this size up, crops and flips; below it, shifts


def make_preprocessing(image_size: int, channels: int, mean: list[float], std: list[float],
                       dense: bool = False) -> dict:
    """`dense` (masks per pixel): the whole image is resized to the exact size, never cropped, so every
    labelled pixel is predicted."""
    large = image_size >= LARGE_IMAGE and not dense
    return {
        "size": [image_size, image_size],
        "channels": channels,
        "layout": "NCHW",
        "scale": 1.0 / 255.0,
        "mean": list(mean) * (channels // len(mean)),
        "std": list(std) * (channels // len(std)),
        # how a decoded image becomes the model's input size before scaling and normalization
        "resize": round(image_size / CROP_RATIO) if large else [image_size, image_size],
        "resize_mode": "shorter-side" if large else "exact",
        "crop": [image_size, image_size],
        "interpolation": "bilinear",
    }


def match_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (C, H, W) with C in {1, 3} (or 4: alpha dropped) to `channels`."""
    if image.shape[0] == 4:
        image = image[:3]
    if image.shape[0] == channels:
        return image
    if image.shape[0] == 1:
        return image.expand(channels, -1, -1).contiguous()
    # RGB -> gray with the ITU-R 601 weights, as PIL's convert("L") does.
    weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    return (image.float() * weights).sum(0, keepdim=True).round().clamp(0, 255).to(torch.uint8)


def eval_transform(pre: dict):
    from torchvision.transforms import v2

    size = pre["size"][0]
    if pre.get("resize_mode") == "shorter-side":
        return v2.Compose([v2.Resize(pre["resize"], antialias=True), v2.CenterCrop(size)])
    return v2.Resize((size, size), antialias=True)


def train_transform(pre: dict, augment: bool, hflip: bool, trivial_augment: bool):
    """Per-image training transform; tiny images get the eval transform here and shifts per batch."""
    from torchvision.transforms import v2

    size = pre["size"][0]
    if not augment or size < LARGE_IMAGE:
        return eval_transform(pre)
    steps = [v2.RandomResizedCrop(size, antialias=True)]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    if trivial_augment:
        steps.append(v2.TrivialAugmentWide())
    return v2.Compose(steps)


def batch_shifts(pre: dict, augment: bool) -> bool:
    return augment and pre["size"][0] < LARGE_IMAGE


def normalize(batch: torch.Tensor, pre: dict) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 model inputs; float batches are taken as already normalized."""
    if batch.dtype != torch.uint8:
        return batch
    mean = torch.tensor(pre["mean"], dtype=torch.float32, device=batch.device).view(1, -1, 1, 1)
    std = torch.tensor(pre["std"], dtype=torch.float32, device=batch.device).view(1, -1, 1, 1)
    return (batch.float() * float(pre["scale"]) - mean) / std


def preprocess(x_uint8: np.ndarray, pre: dict) -> np.ndarray:
    """numpy form of `normalize`, for arrays of model-sized uint8 images."""
    return normalize(torch.from_numpy(np.ascontiguousarray(x_uint8)), pre).numpy()


class JointTransform:
    """One v2 transform applied to an image and its mask together: the same crop and flip, bilinear for the
    image, nearest for the mask (torchvision's tv_tensors.Mask)."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision import tv_tensors

        image, mask = self.transform(tv_tensors.Image(image), tv_tensors.Mask(mask[None]))
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)[0]


def joint_eval_transform(pre: dict) -> JointTransform:
    from torchvision.transforms import v2

    return JointTransform(v2.Resize(tuple(pre["size"]), antialias=True))


def joint_train_transform(pre: dict, augment: bool, hflip: bool) -> JointTransform:
    """Random scale-crop (half the area to all of it) and flips, at every image size (masks move with them)."""
    from torchvision.transforms import v2

    if not augment:
        return joint_eval_transform(pre)
    steps = [v2.RandomResizedCrop(tuple(pre["size"]), scale=(0.5, 1.0), antialias=True)]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    return JointTransform(v2.Compose(steps))


class BoxTransform:
    """One v2 transform applied to an image and its box rows (class, x1, y1, x2, y2[, ignore]) together
    (torchvision's tv_tensors.BoundingBoxes): boxes move with crops, resizes and flips, are clipped to the image,
    and those left under a pixel wide or high are dropped with their rows."""

    def __init__(self, transform):
        from torchvision.transforms import v2

        self.transform = v2.Compose([transform, v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(min_size=1.0)])

    def __call__(self, image: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision import tv_tensors

        boxes = tv_tensors.BoundingBoxes(rows[:, 1:5], format="XYXY", canvas_size=tuple(image.shape[-2:]))
        extra = torch.cat([rows[:, :1], rows[:, 5:]], 1)  # class and any flag columns travel with their box
        out = self.transform({"image": tv_tensors.Image(image), "boxes": boxes, "labels": extra})
        kept = torch.cat([out["labels"][:, :1], out["boxes"].as_subclass(torch.Tensor), out["labels"][:, 1:]], 1)
        return out["image"].as_subclass(torch.Tensor), kept.to(rows.dtype)


def box_eval_transform(pre: dict) -> BoxTransform:
    """Stretched to the model's size, as the device agent's eval sets are (boxes scaled with the image)."""
    from torchvision.transforms import v2

    return BoxTransform(v2.Resize(tuple(pre["size"]), antialias=True))


def box_train_transform(pre: dict, augment: bool, hflip: bool) -> BoxTransform:
    """Random scale-crop (half the area to all of it; boxes cut by the crop kept as far as they show) and flips."""
    from torchvision.transforms import v2

    if not augment:
        return box_eval_transform(pre)
    steps = [v2.RandomResizedCrop(tuple(pre["size"]), scale=(0.5, 1.0), antialias=True)]
    if hflip:
        steps.append(v2.RandomHorizontalFlip())
    return BoxTransform(v2.Compose(steps))
