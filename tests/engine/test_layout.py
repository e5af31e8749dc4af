"""engine/ is a house of sub-packages: no function shadows the module it would be mistaken for."""

from __future__ import annotations

import importlib
import pkgutil
import types

import dbdzoo.engine


def test_no_package_attribute_hides_a_submodule_of_the_same_name() -> None:
    packages = [dbdzoo.engine] + [
        importlib.import_module(m.name)
        for m in pkgutil.walk_packages(dbdzoo.engine.__path__, "dbdzoo.engine.")
        if m.ispkg
    ]
    assert len(packages) >= 4  # engine, config, loop, eval
    shadowed = [
        f"{pkg.__name__}.{sub.name}"
        for pkg in packages
        for sub in pkgutil.iter_modules(pkg.__path__)
        if not isinstance(getattr(pkg, sub.name, None), (types.ModuleType, type(None)))
    ]
    assert not shadowed, f"attributes that hide a submodule: {shadowed}"


def test_the_loop_module_is_reachable_by_import_and_train_is_its_function() -> None:
    from dbdzoo.engine.loop import fit

    assert dbdzoo.engine.train is fit.train
    assert dbdzoo.engine.config.config_dir().joinpath("train.yaml").is_file()
