"""The test session never reads the user's data cache: conftest.py points `MIRJAX_DATA_DIR` at a fresh temporary
directory before any test imports mirjax.data."""

from __future__ import annotations

import os
import tempfile


def test_session_data_dir_is_a_fresh_temporary_directory():
    import mirjax.data
    path = mirjax.data.default_data_dir()
    assert path == os.environ["MIRJAX_DATA_DIR"]
    assert os.path.basename(path).startswith("mirjax-test-data-")
    assert os.path.commonpath([os.path.realpath(path), os.path.realpath(tempfile.gettempdir())]) == \
        os.path.realpath(tempfile.gettempdir())
    assert not path.startswith(os.path.join(os.path.expanduser("~"), ".cache"))
