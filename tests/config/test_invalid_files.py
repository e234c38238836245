"""Each invalid file reports exactly its expected problems, at the right line and column."""

from __future__ import annotations

import pytest

from provisioner.config import validate_file
from tests.config.invalid_cases import CASES, Case


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_invalid_file_reports_every_problem(case: Case, tmp_path) -> None:
    path = tmp_path / "hubspot_schema.yaml"
    path.write_text(case.text, encoding="utf-8")

    problems = validate_file(path, case.environment)

    found = [(p.line, p.column, p.where, p.what) for p in problems]
    assert len(problems) == len(case.expected), found
    for (line, column, where, what), problem in zip(case.expected, problems, strict=True):
        assert (problem.line, problem.column) == (line, column), found
        assert where in problem.where, found
        assert what in problem.what, found
        assert problem.file == str(path)


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)
