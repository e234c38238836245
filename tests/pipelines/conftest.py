"""The emulator fixture of the scenario tests, for drift and export."""

from tests.scenarios.conftest import portal  # noqa: F401
