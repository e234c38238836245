"""The confirmations file is read like the config: hostile content is a FILE:LINE:COL problem, never a traceback."""

from __future__ import annotations

import pytest

from provisioner.config import MAX_FILE_BYTES
from provisioner.errors import ConfigError
from provisioner.manual import Confirmation, load_confirmations, record_confirmations
from provisioner.plan import ManualStep

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nportals: [*b, *b]\n"
CORPUS = [
    ("a list", "- 1\n- 2\n", "top level: expected a mapping of portal ids"),
    ("no portals", "other: 1\n", "portals: expected a mapping"),
    ("portals a list", "portals: [1, 2]\n", "portals: expected a mapping"),
    ("steps a list", "portals:\n  '1': [a]\n", "portals.1: expected a mapping of step ids"),
    ("entry a string", "portals:\n  '1':\n    sidebar: done\n", "portals.1.sidebar: expected digest"),
    ("entry incomplete", "portals:\n  '1':\n    sidebar: {digest: abc}\n", "expected digest, confirmed_at"),
    ("entry a bool", "portals:\n  '1':\n    sidebar: {digest: true, confirmed_at: x, confirmed_by: y}\n",
     "expected digest"),
    ("aliases", LAUGHS, "anchors (&a) are not supported"),
    ("not yaml", "portals: {\n", "YAML syntax error"),
    ("binary", "\x00\x01", "NUL"),
]


@pytest.mark.parametrize(("name", "text", "says"), CORPUS, ids=[case[0] for case in CORPUS])
def test_a_hostile_confirmations_file_is_a_located_problem(tmp_path, name, text, says):
    path = tmp_path / "hubspot_schema.confirmations.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_confirmations(path)
    assert says in str(caught.value) and str(caught.value).startswith(str(path))


def test_a_huge_confirmations_file_is_refused_unread(tmp_path):
    path = tmp_path / "c.yaml"
    with open(path, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match="at most 5 MB"):
        load_confirmations(path)


def test_recorded_confirmations_read_back(tmp_path):
    path = tmp_path / "c.yaml"
    step = ManualStep("sidebar", "Sidebar", (), {}, "abc")
    record_confirmations(path, 42, [step], confirmed_by="jane", confirmed_at="2026-11-20T09:00:00Z")
    assert load_confirmations(path) == {"42": {"sidebar": Confirmation("abc", "2026-11-20T09:00:00Z", "jane")}}
