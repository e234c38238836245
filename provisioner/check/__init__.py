"""``provisioner check``: the seed's Step 5, an end-to-end round trip through a test deal.

``run`` holds the steps, ``report`` the frozen result, ``snapshot`` the synthetic Accord snapshot,
``via`` the trip through a running ``provisioner serve``, ``render`` the text, JSON and markdown.
"""

from provisioner.check.report import FAILED, PASSED, SKIPPED, CheckReport, PropertyCheck, Step
from provisioner.check.run import run_check

__all__ = ["FAILED", "PASSED", "SKIPPED", "CheckReport", "PropertyCheck", "Step", "run_check"]
