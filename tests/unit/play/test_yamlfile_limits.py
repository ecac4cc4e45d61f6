"""Play files are bounded input: regular files only, size-capped, UTF-8, alias expansion and
nesting limited, and values PyYAML cannot construct are InputErrors at their line."""

import os

import pytest

from orch.config import MAX_FILE_BYTES
from orch.errors import InputError
from orch.play.yamlfile import MAX_NODES, load_yaml, read_play_text


def test_read_play_text_refuses_fifos_devices_proc_and_big_files(tmp_path):
    os.mkfifo(tmp_path / "fifo.yml")
    big = tmp_path / "big.yml"
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    for path, reason in ((tmp_path / "fifo.yml", "a FIFO"), ("/dev/zero", "character device"),
                         ("/proc/self/environ", "pseudo file system"), (big, "64 MiB"),
                         (tmp_path, "folder")):
        with pytest.raises(InputError, match=reason) as error:
            read_play_text(path, "plays/x.yml")
        assert str(error.value).startswith("plays/x.yml: ")


def test_read_play_text_names_the_line_of_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "p.yml"
    path.write_bytes(b"name: x\nsteps: \xff\n")
    with pytest.raises(InputError, match="not UTF-8") as error:
        read_play_text(path, "p.yml")
    assert str(error.value).startswith("p.yml:2: ")
    path.write_text("name: é\n", encoding="utf-8")
    assert read_play_text(path, "p.yml") == "name: é\n"


@pytest.mark.parametrize("text, line", [("a: 2020-13-45\n", 1), ("a: 1\nb: !!timestamp x\n", 2),
                                        ("a: !!float xx\n", 1)])
def test_values_pyyaml_cannot_construct_name_their_line(text, line):
    with pytest.raises(InputError) as error:
        load_yaml(text, "p.yml")
    assert str(error.value).startswith(f"p.yml:{line}: not valid YAML")


def test_alias_bombs_and_deep_nesting_are_refused():
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for index in range(1, 8):
        previous, name = chr(ord("a") + index - 1), chr(ord("a") + index)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    with pytest.raises(InputError, match=f"more than {MAX_NODES} values"):
        load_yaml("\n".join(lines) + "\n", "p.yml")
    with pytest.raises(InputError, match="nested too deeply"):
        load_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "p.yml")
