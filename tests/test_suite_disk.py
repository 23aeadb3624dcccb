"""What the suite leaves on disk.

Most tests work on a private copy of the 27 MB demo book in their ``tmp_path``. With pytest's default
(keep every test's folder, for three runs) one run wrote about 11 GB and three runs 33 GB, which filled
the machine's disk late in a CI run: the zarr, widget-state and notebook tests then failed with a full
disk. The project's pytest settings remove a passed test's folder when it ends and keep one run's
failures; the tests below fail if they go.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_WRITTEN: list[Path] = []


def test_the_settings_keep_only_failures_of_one_run(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getini("tmp_path_retention_policy") == "failed"
    assert int(pytestconfig.getini("tmp_path_retention_count")) == 1


def test_a_test_writes_into_its_folder(tmp_path: Path) -> None:
    (tmp_path / "book.db").write_bytes(b"\0" * 1024)
    _WRITTEN.append(tmp_path)


def test_that_folder_is_gone_once_the_test_passed() -> None:
    if not _WRITTEN:
        pytest.fail("run the whole module: the test before this one writes the folder it looks for")
    assert not _WRITTEN[0].exists()
