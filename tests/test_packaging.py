"""The package metadata builds without deprecation warnings (an install shows none)."""
from __future__ import annotations

import warnings

from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

from fincommerce.config import PROJECT_ROOT


def test_pyproject_license_is_an_spdx_expression_without_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Another test's unclosed event loop may be garbage-collected here; it is not a packaging warning.
        warnings.simplefilter("ignore", ResourceWarning)
        dist = apply_configuration(Distribution(), PROJECT_ROOT / "pyproject.toml")
    assert dist.metadata.license_expression == "Apache-2.0"
    assert not [str(w.message).splitlines()[0] for w in caught]
