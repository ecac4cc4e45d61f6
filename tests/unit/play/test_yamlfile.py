import pytest

from orch.errors import InputError
from orch.play.yamlfile import load_yaml


def test_lines_of_keys_and_items():
    data = load_yaml("name: x\nsteps:\n  - announce: hi\n  - call: a.b\n    nodes: n\n", "p.yml")
    assert data == {"name": "x", "steps": [{"announce": "hi"}, {"call": "a.b", "nodes": "n"}]}
    assert data.line_of("steps") == 2
    assert data["steps"].line_of(1) == 4
    assert data["steps"][1].line_of("nodes") == 5


def test_duplicate_key_names_its_line():
    with pytest.raises(InputError) as error:
        load_yaml("a: 1\nb: 2\na: 3\n", "p.yml")
    assert str(error.value) == "p.yml:3: duplicate key 'a'"


def test_syntax_error_names_its_line():
    with pytest.raises(InputError) as error:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n", "p.yml")
    assert str(error.value).startswith("p.yml:")
    assert "not valid YAML" in str(error.value)
