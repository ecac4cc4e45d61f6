"""orch.cfg and the shared file reader: only regular files, size-capped, UTF-8."""

import os

import pytest

from orch.config import load_config, read_regular_file
from orch.errors import InputError


def test_read_regular_file_caps_the_size_it_reads(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 2048)
    assert read_regular_file(path, "thing", limit=2048) == b"x" * 2048
    with pytest.raises(InputError, match="1 KiB allowed"):
        read_regular_file(path, "thing", limit=1024)


def test_an_orch_cfg_that_is_not_utf8_is_an_input_error(tmp_path):
    (tmp_path / "orch.cfg").write_bytes(b"[defaults]\nssh_user = \xff\n")
    with pytest.raises(InputError, match="not UTF-8") as error:
        load_config(environ={}, cwd=tmp_path, home=tmp_path / "home")
    assert str(error.value).startswith(f"{tmp_path / 'orch.cfg'}:2: ")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="a FIFO"):
        read_regular_file(tmp_path / "fifo", "thing")
