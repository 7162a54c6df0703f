import re
from pathlib import Path

import pytest

from edgeship.pipeline.config.recipe import load_recipe

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_recipes_are_valid(path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem


def test_the_readme_recipe_is_valid():
    """The 15-line recipe a newcomer copies from README.md passes the same validation as a file would."""
    import yaml

    from edgeship.pipeline.config.recipe import parse_recipe

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)
    assert len(block.splitlines()) <= 15
    recipe = parse_recipe(yaml.safe_load(block), "README.md")
    assert recipe.student.arch == "mobilenet_v3_small" and recipe.targets[1].type == "ssh"


def test_the_readme_is_a_front_door():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert readme.splitlines()[3].startswith("make demo") and readme.splitlines()[4].startswith("make test")
    for link in re.findall(r"\]\((docs/[\w.-]+\.md)\)", readme):
        assert (Path(__file__).resolve().parents[2] / link).is_file(), link


def test_the_voc_example_folder_loads_as_its_recipe_says(tmp_path):
    """examples/voc_scenes.py writes what examples/voc-scenes.yaml reads: the Pascal VOC layout, RGB JPEGs of
    several non-square sizes, masks with void borders (255, ignored)."""
    import subprocess
    import sys

    import numpy as np

    from edgeship.pipeline.data.datasets import load_dataset

    root = Path(__file__).resolve().parents[2]
    folder = tmp_path / "voc-scenes"
    done = subprocess.run([sys.executable, str(root / "examples" / "voc_scenes.py"), str(folder), "--train", "30",
                           "--val", "10"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    recipe = load_recipe(root / "examples" / "voc-scenes.yaml")
    data = load_dataset(recipe.data.model_copy(update={"source": f"voc:{folder}"}))
    assert (len(data.train) + len(data.val), len(data.test)) == (30, 10)
    from PIL import Image

    sizes = {Image.open(p).size for p in (folder / "JPEGImages").glob("*.jpg")}
    assert len(sizes) > 5 and any(w != h for w, h in sizes)
    masks = np.concatenate([np.asarray(Image.open(p)).ravel() for p in (folder / "SegmentationClass").glob("*.png")])
    assert (masks == 255).any() and 0.03 < ((masks > 0) & (masks < 255)).mean() < 0.4
