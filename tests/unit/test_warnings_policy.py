"""The project's own DeprecationWarnings fail the suite; third-party ones do not (pyproject filterwarnings)."""

from __future__ import annotations

import warnings

import pytest


def test_a_deprecation_from_our_code_is_an_error() -> None:
    with pytest.raises(DeprecationWarning):
        warnings.warn("old API", DeprecationWarning, stacklevel=1)  # issued from module tests.unit...


def test_a_deprecation_from_a_third_party_module_is_ignored() -> None:
    namespace: dict[str, object] = {"__name__": "somelib.compat", "warnings": warnings}
    exec("warnings.warn('their old API', DeprecationWarning, stacklevel=1)", namespace)  # noqa: S102
