"""Packages and package data (metadata and dependencies are in setup.cfg).

The modules orch pushes to hosts live in ``modules/`` at the repository root, where operators
and auditors look for them; an installed orch carries them as the package
``orch.shipped_modules`` (setuptools maps the folder, no copy in the tree), and
``orch.agents.registry`` finds them there. ``find_packages`` takes only folders with an
``__init__.py`` (tests/unit/test_packaging.py checks every folder of orch code has one).
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["orch", "orch.*"]) + ["orch.shipped_modules"],
    package_dir={"orch.shipped_modules": "modules"},
    package_data={
        "orch.runtime": ["*.py"],
        "orch.lab": ["*.py", "*.tmpl"],
        "orch.shipped_modules": ["*.py"],
    },
)
