"""Packages for setuptools; all metadata lives in pyproject.toml.

The Hydra tree stays at the top of the checkout as ``configs/`` (``python train.py`` reads it there) and is
mapped into the wheel as the package ``dbdzoo.configs``, so ``dbdzoo train`` / ``dbdzoo eval`` work from a
plain ``pip install`` (``dbdzoo.engine.config.config_dir`` finds either copy).
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["dbdzoo", "dbdzoo.*"]), "dbdzoo.configs"],
    package_dir={"dbdzoo.configs": "configs"},  # its *.yaml files: [tool.setuptools.package-data]
)
