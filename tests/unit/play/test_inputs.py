import pytest

from orch.errors import InputError, Where
from orch.masking import Masker
from orch.play.inputs import MASK, masked, parse_assignments, resolve_inputs
from orch.play.model import InputSpec

W = Where("p.yml", 3, "inputs.x")
SPECS = [
    InputSpec("cluster", W, validation=r"^[a-z]+$"),
    InputSpec("revision", W, type="integer", validation=r"^\d+$"),
    InputSpec("password", W, sensitive=True),
    InputSpec("sleep", W, type="number", default=10, has_default=True),
]


def test_given_values_are_validated_and_typed():
    values = resolve_inputs(SPECS, {"cluster": "bravo", "revision": "20", "password": "s3cret"})
    assert values == {"cluster": "bravo", "revision": 20, "password": "s3cret", "sleep": 10}
    assert masked(SPECS, values)["password"] == MASK


def test_bad_revision_names_the_flag():
    with pytest.raises(InputError) as error:
        resolve_inputs(SPECS, {"cluster": "bravo", "revision": "abc", "password": "x"})
    assert str(error.value) == ("-e revision: input 'revision': expected an integer (ASCII digits)"
                                " (got 'abc')")


def test_sensitive_value_never_shown_in_errors():
    specs = [InputSpec("token", W, sensitive=True, validation=r"^\d+$")]
    with pytest.raises(InputError) as error:
        resolve_inputs(specs, {"token": "hunter2"})
    assert "hunter2" not in str(error.value) and "does not match" in str(error.value)


def test_missing_input_is_asked_else_refused():
    asked = []

    def ask(spec):
        asked.append(spec.name)
        return {"cluster": "alfa", "revision": "7", "password": "pw"}[spec.name]

    values = resolve_inputs(SPECS, {}, ask)
    assert asked == ["cluster", "revision", "password"]  # defaults are not asked
    assert values["revision"] == 7
    with pytest.raises(InputError, match="input 'cluster' is required: give -e cluster=VALUE"):
        resolve_inputs(SPECS, {})


def test_unknown_input_is_a_typo():
    with pytest.raises(InputError, match="unknown input 'revison'"):
        resolve_inputs(SPECS, {"revison": "20"})


def test_parse_assignments():
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(InputError, match="expected name=value"):
        parse_assignments(["novalue"])


def test_masker_hides_secrets_inside_text():
    assert Masker(["s3cret"])("login with s3cret now") == f"login with {MASK} now"
