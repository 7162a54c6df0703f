"""Detection datasets on disk in the layouts their tools write:

- `coco:PATH`: COCO 2017 as downloaded: annotations/instances_{train,val}2017.json beside train2017/ and val2017/
  (val optional). Any image ids; category ids need not be contiguous: they are mapped in id order and named.
- `yolo:PATH/data.yaml`: Ultralytics: `path` (optional), `train` and `val` image folders, `names`; each image's
  labels in the mirrored labels/ folder, one `cls cx cy w h` line per box (normalized); no file = no boxes.
- `vocdet:PATH`: Pascal VOC detection: Annotations/*.xml, ImageSets/Main/{train,val}.txt, JPEGImages/.

Every image and annotation is checked once at start-up (image sizes from the file headers), so a bad file stops
the run before any training, with its name (and line). COCO's `iscrowd` and VOC's `difficult` boxes are kept
with the ignore flag (pipeline/data/box_files.py): not trained on, and not counted as missed by the mAP.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgeship.pipeline.core.contracts.data_sources import BOXES, DataSource, SourceData
from edgeship.pipeline.core.contracts.plugins import DATA_SOURCES
from edgeship.pipeline.core.infrastructure.errors import EdgeshipError
from edgeship.pipeline.data.box_files import ROW_WIDTH, BoxFileSplit
from edgeship.pipeline.data.segfolders import IMAGE_SUFFIXES
from edgeship.pipeline.data.splits import file_listing_digest

EDGE_SLACK = 1.0  # pixels a box may reach past its image (rounding in the tools that wrote it); clipped after
VOC_DETECTION_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
                         "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
                         "train", "tvmonitor"]


def _fail(message: str):
    raise EdgeshipError(f"data.source: {message}")


def image_size(path: Path, named_by: str) -> tuple[int, int]:
    """(width, height) from the file's header: a missing or unreadable image stops the run with its name."""
    from PIL import Image

    if not path.is_file():
        _fail(f"{named_by} names image {path}, which is missing")
    try:
        with Image.open(path) as img:
            return img.size
    except OSError as err:
        _fail(f"cannot read image {path}: {' '.join(str(err).split())}")


def box_row(cls: int, x1: float, y1: float, x2: float, y2: float, size: tuple[int, int], where: str,
            ignore: bool = False) -> list[float]:
    """One checked row (class, x1, y1, x2, y2, ignore), clipped to the image."""
    width, height = size
    if not (x2 > x1 and y2 > y1):
        _fail(f"{where}: box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) has zero or negative size")
    if x1 < -EDGE_SLACK or y1 < -EDGE_SLACK or x2 > width + EDGE_SLACK or y2 > height + EDGE_SLACK:
        _fail(f"{where}: box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside its {width}x{height} image")
    return [cls, max(x1, 0.0), max(y1, 0.0), min(x2, width), min(y2, height), float(ignore)]


def _rows(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, ROW_WIDTH)


def _split(images: list[tuple[Path, np.ndarray]], pre: dict) -> BoxFileSplit:
    return BoxFileSplit([str(p) for p, _ in images], [rows for _, rows in images], pre)


def _finish(groups: list[list[tuple[Path, np.ndarray]]], classes: list[str], listing: list[Path], root: Path,
            pre: dict) -> SourceData:
    if not any((rows[:, 5] == 0).any() for group in groups for _, rows in group):
        _fail(f"{root} holds no boxes (an image without boxes is fine, a dataset without any is not)")
    files = sorted({str(p) for group in groups for p, _ in group} | {str(p) for p in listing})
    digest = file_listing_digest(files, root)
    test = _split(groups[1], pre) if len(groups) > 1 and groups[1] else None
    return SourceData(_split(groups[0], pre), test, classes, digest)


# --- COCO ---------------------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict:
    if not path.is_file():
        _fail(f"{path} not found (COCO 2017 layout: annotations/instances_train2017.json beside train2017/)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        _fail(f"cannot read {path}: {' '.join(str(err).split())}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            _fail(f"{path} has no {key!r} list")
    return data


def _coco_part(path: Path, folder: Path, category_index: dict[int, int]) -> list[tuple[Path, np.ndarray]]:
    data = _read_json(path)
    images: dict[int, tuple[Path, tuple[int, int]]] = {}
    for entry in data["images"]:
        file = folder / entry["file_name"]
        size = image_size(file, f"{path.name} (image id {entry['id']})")
        if "width" in entry and (entry["width"], entry["height"]) != size:
            _fail(f"{path.name}: image id {entry['id']} is {entry['width']}x{entry['height']} there, but {file} is "
                  f"{size[0]}x{size[1]}")
        images[entry["id"]] = (file, size)
    rows: dict[int, list] = {image_id: [] for image_id in images}
    for n, ann in enumerate(data["annotations"]):
        where = f"{path.name} annotation {ann.get('id', n)}"
        if ann.get("image_id") not in images:
            _fail(f"{where} is for image id {ann.get('image_id')}, which is not among the images")
        if ann.get("category_id") not in category_index:
            _fail(f"{where} has category id {ann.get('category_id')}, which is not among the categories")
        x, y, w, h = (float(v) for v in ann["bbox"])
        rows[ann["image_id"]].append(box_row(category_index[ann["category_id"]], x, y, x + w, y + h,
                                             images[ann["image_id"]][1], where, bool(ann.get("iscrowd", 0))))
    return [(images[i][0], _rows(rows[i])) for i in sorted(images)]


def load_coco(argument: str, cfg, pre: dict) -> SourceData:
    root = Path(argument)
    if not root.is_dir():
        _fail(f"{root} not found")
    train_json = root / "annotations" / "instances_train2017.json"
    categories = sorted(_read_json(train_json)["categories"], key=lambda c: c["id"])
    category_index = {c["id"]: i for i, c in enumerate(categories)}
    groups = [_coco_part(train_json, root / "train2017", category_index)]
    listing = [train_json]
    val_json = root / "annotations" / "instances_val2017.json"
    if val_json.is_file():
        val_ids = sorted(c["id"] for c in _read_json(val_json)["categories"])
        if val_ids != sorted(category_index):
            _fail(f"{val_json} has categories {val_ids}, but {train_json.name} has {sorted(category_index)}")
        groups.append(_coco_part(val_json, root / "val2017", category_index))
        listing.append(val_json)
    return _finish(groups, [str(c["name"]) for c in categories], listing, root, pre)


# --- YOLO (Ultralytics) -------------------------------------------------------------------------------------

def _yolo_names(data: dict, yaml_path: Path) -> list[str]:
    names = data.get("names")
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            _fail(f"{yaml_path}: names must be numbered 0..{len(names) - 1}")
        return [str(names[i]) for i in range(len(names))]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    _fail(f"{yaml_path}: names (a list, or a mapping from class number to name) is missing")


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last images/ folder of the path becomes labels/, the suffix .txt."""
    parts = list(image.parts)
    at = len(parts) - 1 - parts[::-1].index("images")
    return Path(*parts[:at], "labels", *parts[at + 1:]).with_suffix(".txt")


def _yolo_boxes(label: Path, size: tuple[int, int], classes: int) -> np.ndarray:
    rows = []
    for number, line in enumerate(label.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{label} line {number}"
        if len(fields) != 5:
            _fail(f"{where}: {len(fields)} fields, expected 5 (cls cx cy w h)")
        try:
            cls, cx, cy, w, h = int(fields[0]), *(float(v) for v in fields[1:])
        except ValueError:
            _fail(f"{where}: not numbers: {line.strip()!r}")
        if not 0 <= cls < classes:
            _fail(f"{where}: class {cls}, but names has {classes} (0..{classes - 1})")
        if not all(0.0 <= v <= 1.0 for v in (cx, cy, w, h)):
            _fail(f"{where}: values outside [0, 1] (coordinates are normalized by the image size)")
        width, height = size
        rows.append(box_row(cls, (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                            (cy + h / 2) * height, size, where))
    return _rows(rows)


def _yolo_part(folder: Path, yaml_path: Path, classes: int) -> tuple[list, list[Path]]:
    if not folder.is_dir():
        _fail(f"{yaml_path}: image folder {folder} not found")
    if "images" not in folder.parts:
        _fail(f"{yaml_path}: image folder {folder} is not under an images/ folder (labels/ mirrors it)")
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    labels = {label_path(p): p for p in images}
    label_folder = label_path(folder / "x.png").parent
    for label in sorted(label_folder.rglob("*.txt")) if label_folder.is_dir() else []:
        if label not in labels:
            _fail(f"label file {label} has no image in {folder} (same path under images/)")
    part = []
    for image in images:
        size = image_size(image, str(yaml_path))
        label = label_path(image)
        part.append((image, _yolo_boxes(label, size, classes) if label.is_file() else _rows([])))
    return part, [label for label in labels if label.is_file()]


def load_yolo(argument: str, cfg, pre: dict) -> SourceData:
    import yaml

    yaml_path = Path(argument)
    if not yaml_path.is_file():
        _fail(f"{yaml_path} not found (yolo:PATH/data.yaml)")
    try:
        data = yaml.safe_load(yaml_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        _fail(f"cannot read {yaml_path}: {' '.join(str(err).split())}")
    root = yaml_path.parent / data.get("path", ".")
    names = _yolo_names(data, yaml_path)
    groups, listing = [], [yaml_path]
    for key in ("train", "val"):
        if key == "val" and not data.get("val"):
            continue
        if not isinstance(data.get(key), str):
            _fail(f"{yaml_path}: {key} (an image folder, relative to path) is missing")
        part, labels = _yolo_part(root / data[key], yaml_path, len(names))
        if not part:
            _fail(f"{yaml_path}: {root / data[key]} holds no images")
        groups.append(part)
        listing += labels
    return _finish(groups, names, listing, yaml_path.parent, pre)


# --- Pascal VOC detection -----------------------------------------------------------------------------------

def _voc_objects(xml: Path) -> list[tuple[str, bool, tuple[float, float, float, float]]]:
    import xml.etree.ElementTree as ET

    try:
        tree = ET.parse(xml)
    except (OSError, ET.ParseError) as err:
        _fail(f"cannot read {xml}: {' '.join(str(err).split())}")
    objects = []
    for node in tree.getroot().iter("object"):
        box = node.find("bndbox")
        try:
            name = node.findtext("name").strip()
            # VOC counts pixels from 1 and its boxes include their last pixel
            x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            _fail(f"{xml}: an object without a name or a numeric bndbox (xmin ymin xmax ymax)")
        objects.append((name, node.findtext("difficult", "0").strip() == "1", (x1 - 1, y1 - 1, x2, y2)))
    return objects


def _voc_image(image: Path, xml: Path, objects: list, index: dict[str, int]) -> tuple[Path, np.ndarray]:
    size = image_size(image, str(xml))
    return image, _rows([box_row(index[name], *box, size, str(xml), difficult) for name, difficult, box in objects])


def load_vocdet(argument: str, cfg, pre: dict) -> SourceData:
    root = Path(argument)
    if not root.is_dir():
        _fail(f"{root} not found")
    parts: list[list[tuple[Path, Path, list]]] = []
    for name in ("train", "val"):
        listing = root / "ImageSets" / "Main" / f"{name}.txt"
        if not listing.is_file():
            _fail(f"{listing} not found (the Pascal VOC layout)")
        part = []
        for stem in (line.split()[0] for line in listing.read_text().splitlines() if line.strip()):
            xml, image = root / "Annotations" / f"{stem}.xml", root / "JPEGImages" / f"{stem}.jpg"
            if not xml.is_file():
                _fail(f"{listing} names {stem}, but its annotation {xml} is missing")
            part.append((image, xml, _voc_objects(xml)))
        if not part:
            _fail(f"{listing} lists no images")
        parts.append(part)
    seen = {name for part in parts for _, _, objects in part for name, _, _ in objects}
    classes = VOC_DETECTION_CLASSES if seen <= set(VOC_DETECTION_CLASSES) else sorted(seen)
    index = {name: i for i, name in enumerate(classes)}
    groups = [[_voc_image(image, xml, objects, index) for image, xml, objects in part] for part in parts]
    annotations = [xml for part in parts for _, xml, _ in part]
    return _finish(groups, classes, annotations, root, pre)


for _source in (DataSource("coco", BOXES, load_coco, "coco:PATH", needs_argument=True),
                DataSource("yolo", BOXES, load_yolo, "yolo:PATH/data.yaml", needs_argument=True),
                DataSource("vocdet", BOXES, load_vocdet, "vocdet:PATH", needs_argument=True)):
    DATA_SOURCES.register(_source)
