"""Detection datasets on disk for tests: one set of pictures (the built-in objects canvases, stretched to sizes of
their own, as RGB JPEG files) with its boxes written in the COCO, YOLO and Pascal VOC layouts, so each loader
can be compared with the others and a model can learn from them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edgeship.pipeline.data.objects import compose_objects
from edgeship.pipeline.data.sources import digits_arrays

NAMES = [f"digit{i}" for i in range(10)]
COCO_IDS = [3 * i + 5 for i in range(10)]  # not contiguous, not from 0: as COCO's own 1..90 with gaps


@dataclass
class Picture:
    stem: str
    part: str                  # train or val
    image: np.ndarray          # (H, W, 3) uint8
    boxes: np.ndarray          # (K, 5) class, x1, y1, x2, y2 at the picture's pixels


def pictures(train: int = 24, val: int = 8, canvas: int = 48, seed: int = 0) -> list[Picture]:
    x, y, _, _, _ = digits_arrays()
    rng = np.random.default_rng(seed)
    out = []
    for part, count in (("train", train), ("val", val)):
        images, flat, offsets = compose_objects(x, y, count, canvas, 1, 3, seed + (part == "val"))
        for n in range(count):
            width, height = int(rng.integers(40, 90)), int(rng.integers(36, 80))
            picture = Image.fromarray(images[n, 0]).convert("RGB").resize((width, height), Image.BILINEAR)
            boxes = flat[offsets[n]:offsets[n + 1]].copy()
            boxes[:, [1, 3]] *= width / canvas
            boxes[:, [2, 4]] *= height / canvas
            out.append(Picture(f"{part}_{n:04d}", part, np.asarray(picture), boxes))
    return out


def write_coco(root: Path, items: list[Picture], crowd: set[str] = frozenset()) -> Path:
    """annotations/instances_{train,val}2017.json beside train2017/ and val2017/; image ids not from 0."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for part in ("train", "val"):
        folder = root / f"{part}2017"
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for n, p in enumerate(i for i in items if i.part == part):
            image_id = 1000 + 7 * n
            Image.fromarray(p.image).save(folder / f"{p.stem}.jpg", quality=95)
            images.append({"id": image_id, "file_name": f"{p.stem}.jpg", "width": p.image.shape[1],
                           "height": p.image.shape[0]})
            for cls, x1, y1, x2, y2 in p.boxes.tolist():
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "category_id": COCO_IDS[int(cls)], "bbox": [x1, y1, x2 - x1, y2 - y1],
                                    "area": (x2 - x1) * (y2 - y1), "iscrowd": int(p.stem in crowd)})
        categories = [{"id": c, "name": name} for c, name in zip(COCO_IDS, NAMES)]
        (root / "annotations" / f"instances_{part}2017.json").write_text(json.dumps(
            {"images": images, "annotations": annotations, "categories": categories[::-1]}))
    return root


def write_yolo(root: Path, items: list[Picture]) -> Path:
    """images/{train,val}, labels/ mirrored, data.yaml; an image without boxes gets no label file."""
    for part in ("train", "val"):
        (root / "images" / part).mkdir(parents=True, exist_ok=True)
        (root / "labels" / part).mkdir(parents=True, exist_ok=True)
    for p in items:
        Image.fromarray(p.image).save(root / "images" / p.part / f"{p.stem}.jpg", quality=95)
        height, width = p.image.shape[:2]
        lines = [f"{int(c)} {(x1 + x2) / 2 / width:.7f} {(y1 + y2) / 2 / height:.7f} {(x2 - x1) / width:.7f} "
                 f"{(y2 - y1) / height:.7f}" for c, x1, y1, x2, y2 in p.boxes.tolist()]
        if lines:
            (root / "labels" / p.part / f"{p.stem}.txt").write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames:\n" +
                                    "".join(f"  {i}: {name}\n" for i, name in enumerate(NAMES)))
    return root / "data.yaml"


def write_vocdet(root: Path, items: list[Picture], difficult: set[str] = frozenset()) -> Path:
    """Annotations/*.xml (1-based, inclusive pixel boxes), ImageSets/Main/{train,val}.txt, JPEGImages/."""
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for part in ("train", "val"):
        stems = [p.stem for p in items if p.part == part]
        (root / "ImageSets" / "Main" / f"{part}.txt").write_text("\n".join(stems) + "\n")
    for p in items:
        Image.fromarray(p.image).save(root / "JPEGImages" / f"{p.stem}.jpg", quality=95)
        height, width = p.image.shape[:2]
        objects = "".join(
            f"<object><name>{NAMES[int(c)]}</name><difficult>{int(p.stem in difficult)}</difficult><bndbox>"
            f"<xmin>{x1 + 1:.4f}</xmin><ymin>{y1 + 1:.4f}</ymin><xmax>{x2:.4f}</xmax><ymax>{y2:.4f}</ymax>"
            f"</bndbox></object>" for c, x1, y1, x2, y2 in p.boxes.tolist())
        (root / "Annotations" / f"{p.stem}.xml").write_text(
            f"<annotation><filename>{p.stem}.jpg</filename><size><width>{width}</width><height>{height}</height>"
            f"<depth>3</depth></size>{objects}</annotation>")
    return root


DETECTION_RECIPE = {"task": "detection", "teacher.arch": "fcos_tiny", "teacher.args": {"width": 4},
             "student.arch": "fcos_tiny", "student.args": {"width": 4}, "data.image_size": 64,
             "distill.method": "pkd"}


def broken_boxes(folder: Path, how: str) -> str:
    """A COCO or YOLO dataset with one bad annotation, file or line (tests/support/box_layouts.py)."""
    items = pictures(train=4, val=2)
    if how.startswith("yolo"):
        data_yaml = write_yolo(folder / "yolo", items)
        labels = sorted((folder / "yolo" / "labels" / "train").glob("*.txt"))
        if how == "yolo fields":
            labels[0].write_text("1 0.5 0.5 0.2\n")
        elif how == "yolo range":
            labels[0].write_text("1 0.5 1.5 0.2 0.2\n")
        elif how == "yolo orphan label":
            (labels[0].parent / "ghost.txt").write_text("1 0.5 0.5 0.2 0.2\n")
        elif how == "yolo no boxes":
            for label in (folder / "yolo" / "labels").rglob("*.txt"):
                label.unlink()
        return f"yolo:{data_yaml}"
    root = write_coco(folder / "coco", items)
    annotations = root / "annotations" / "instances_train2017.json"
    data = json.loads(annotations.read_text())
    first = data["annotations"][0]
    if how == "coco outside":
        first["bbox"] = [10.0, 10.0, 500.0, 8.0]
    elif how == "coco zero size":
        first["bbox"] = [10.0, 10.0, 0.0, 8.0]
    elif how == "coco category":
        first["category_id"] = 99
    elif how == "coco image id":
        first["image_id"] = 424242
    elif how == "coco missing image":
        (root / "train2017" / data["images"][0]["file_name"]).unlink()
    elif how == "coco unreadable image":
        (root / "train2017" / data["images"][0]["file_name"]).write_bytes(b"not a picture")
    annotations.write_text(json.dumps(data))
    return f"coco:{root}"
