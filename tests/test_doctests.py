"""Every docstring example in the installed package runs, under the names users import (harstream...)."""
import doctest
import importlib
import pkgutil

import harstream
import pytest

MODULES = sorted(m.name for m in pkgutil.walk_packages(harstream.__path__, "harstream.")
                 if not m.name.startswith("harstream.training") and not m.name.endswith("__main__"))  # training: its own tests


def test_the_package_is_walked():
    assert {"harstream.core.preprocess", "harstream.core.windows", "harstream.adapters.mqtt.daemon", "harstream.datasets"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
