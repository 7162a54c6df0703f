"""The one thing pyproject.toml cannot say: the top-level folders install under one namespace, `edgeship`."""
from setuptools import find_namespace_packages, setup

FOLDERS = ("pipeline", "targets", "calibration")  # at the top of the repo, as the design card asks

setup(
    package_dir={f"edgeship.{folder}": folder for folder in FOLDERS},
    packages=[f"edgeship.{package}" for package in find_namespace_packages(
        include=[pattern for folder in FOLDERS for pattern in (folder, f"{folder}.*")], exclude=["*__pycache__*"])],
)
