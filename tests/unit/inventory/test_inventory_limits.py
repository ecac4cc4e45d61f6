"""Bounded inventory input: range sizes are counted before any name is made, only regular files
(and folders of them) are read, each at most MAX_FILE_BYTES; every refusal is an InputError
naming the file (and line), exit 2."""

import os
import time

import pytest

from orch.config import MAX_FILE_BYTES
from orch.errors import InputError
from orch.inventory import load_inventory
from orch.inventory.ranges import MAX_RANGE_HOSTS, RangeError, expand_hostname_range


@pytest.mark.parametrize("pattern", ["h[1:10000000]", "h[1:1000]x[1:1001]",
                                     "h[0:99999999999999999999]", "h[a:z][0:99][0:9999]"])
def test_a_range_over_the_cap_is_refused_before_allocating(pattern):
    started = time.monotonic()
    with pytest.raises(RangeError, match="more than the 1,000,000"):
        expand_hostname_range(pattern)
    assert time.monotonic() - started < 1


def test_a_range_at_the_cap_expands():
    assert len(expand_hostname_range(f"h[1:{MAX_RANGE_HOSTS}]")) == MAX_RANGE_HOSTS
    assert expand_hostname_range("db[01:02]-[a:b]") == ["db01-a", "db01-b", "db02-a", "db02-b"]


@pytest.mark.parametrize("name, text, line", [
    ("hosts.ini", "[web]\nok1\nh[1:10000000]\n", 3),
    ("hosts.yml", "all:\n  hosts:\n    ok1:\n    h[1:10000000]:\n", 4),
])
def test_the_inventory_error_names_file_line_and_cap(tmp_path, name, text, line):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as error:
        load_inventory(str(path))
    assert str(error.value).startswith(f"{path}:{line}: ")
    assert "1,000,000" in str(error.value)


def test_a_fifo_is_refused_not_read(tmp_path):
    fifo = tmp_path / "hosts"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a FIFO"):
        load_inventory(str(fifo))


def test_a_fifo_inside_an_inventory_folder_is_refused(tmp_path):
    (tmp_path / "a.ini").write_text("web1\n")
    os.mkfifo(tmp_path / "b")
    with pytest.raises(InputError) as error:
        load_inventory(str(tmp_path))
    assert str(tmp_path / "b") in str(error.value)


@pytest.mark.parametrize("path", ["/proc/self/fd", "/proc/self/status", "/dev/null", "/dev/zero"])
def test_pseudo_files_and_devices_are_refused(path):
    with pytest.raises(InputError, match="only regular files"):
        load_inventory(path)


def test_a_file_over_the_size_cap_is_refused(tmp_path):
    path = tmp_path / "big.ini"
    with open(path, "wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(InputError, match="64 MiB"):
        load_inventory(str(path))


def test_a_symlink_loop_between_folders_is_read_once(tmp_path):
    (tmp_path / "a.ini").write_text("web1\n")
    os.symlink(tmp_path, tmp_path / "again")
    assert list(load_inventory(str(tmp_path)).hosts) == ["web1"]


def test_a_fifo_vars_file_is_not_read(tmp_path):
    (tmp_path / "hosts.ini").write_text("[web]\nweb1\n")
    (tmp_path / "host_vars").mkdir()
    os.mkfifo(tmp_path / "host_vars" / "web1")
    with pytest.raises(InputError, match="a FIFO"):
        load_inventory(str(tmp_path / "hosts.ini"))


@pytest.mark.parametrize("value", ["2020-13-45", "!!timestamp x", "!!float xx"])
def test_yaml_values_pyyaml_cannot_construct_are_input_errors(tmp_path, value):
    path = tmp_path / "hosts.yml"
    path.write_text(f"all:\n  hosts:\n    web1:\n      when: {value}\n")
    with pytest.raises(InputError):
        load_inventory(str(path))


def test_cli_exit_2_for_proc_fd(tmp_path):
    import io

    from orch.cli import main
    from orch.cli.env import Environment

    out, err = io.StringIO(), io.StringIO()
    code = main(["inventory", "--list", "-i", "/proc/self/fd"],
                env=Environment(stdout=out, stderr=err, stdin=io.StringIO(), environ={},
                                cwd=tmp_path))
    assert code == 2 and "pseudo file system" in err.getvalue()


def test_a_nul_byte_in_a_path_is_an_input_error(tmp_path):
    import io

    from orch.cli import main
    from orch.cli.env import Environment

    with pytest.raises(InputError, match="NUL"):
        load_inventory("a\x00b")
    for argv in (["discover", "-i", "\x00"], ["inventory", "--list", "-i", "x\x00"]):
        err = io.StringIO()
        code = main(argv, env=Environment(stdout=io.StringIO(), stderr=err, stdin=io.StringIO(),
                                          environ={}, cwd=tmp_path))
        assert code == 2 and "NUL" in err.getvalue(), err.getvalue()


def test_limit_takes_ascii_digits_only(fleet):
    for value in ("9" * 5000, "٢٠"):
        code, _, err = fleet.run("discover", "--limit", value)
        assert code == 2 and "--limit" in err
