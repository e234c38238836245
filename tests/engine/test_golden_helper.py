"""The golden helper can fail: with UPDATE_GOLDEN set it rewrites a differing file and still fails."""

from __future__ import annotations

import pytest

from tests.golden import check_golden


def test_a_difference_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("UPDATE_GOLDEN", raising=False)
    (tmp_path / "a.txt").write_text("reviewed\n")
    with pytest.raises(AssertionError, match="differs from golden file"):
        check_golden(tmp_path, "a.txt", "changed\n")
    assert (tmp_path / "a.txt").read_text() == "reviewed\n"


def test_update_golden_rewrites_the_file_and_fails_the_test(tmp_path, monkeypatch):
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    (tmp_path / "a.txt").write_text("reviewed\n")
    with pytest.raises(pytest.fail.Exception, match="rewrote golden file .*a.txt"):
        check_golden(tmp_path, "a.txt", "changed\n")
    assert (tmp_path / "a.txt").read_text() == "changed\n"
    check_golden(tmp_path, "a.txt", "changed\n")  # the next run, now matching, passes


def test_a_missing_golden_file_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("UPDATE_GOLDEN", raising=False)
    with pytest.raises(pytest.fail.Exception, match="no golden file"):
        check_golden(tmp_path, "new.txt", "text\n")
