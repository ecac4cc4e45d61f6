"""validate_args (host and controller) and coerce_args (the controller's typing of text)."""

import pytest

from orch.runtime.core import (
    INVALID_DATA,
    MISSING_DATA,
    UNKNOWN_ACTION,
    ValidationError,
    mask_args,
    resolve_state_dir,
    validate_args,
)
from orch.schema import coerce_args

AGENT = {
    "name": "demo",
    "actions": {
        "go": {
            "inputs": {
                "revision": {"type": "integer", "required": True, "validation": "^\\d+$",
                             "maxlength": 5},
                "servers": {"type": "list", "optional": True, "validation": "^[a-z0-9]+$"},
                "ratio": {"type": "float"},
                "count": {"type": "number"},
                "force": {"type": "boolean", "default": False},
                "extra": {"type": "hash"},
                "cmd": {"type": "string", "validation": "shellsafe"},
                "ip": {"type": "string", "validation": "ipv4address"},
                "ip6": {"type": "string", "validation": "ipv6address"},
                "secret": {"type": "string", "sensitive": True, "validation": "^[a-z]+$"},
            },
        },
    },
}


def fails(args, status, field=None):
    with pytest.raises(ValidationError) as caught:
        validate_args(AGENT, "go", args)
    assert caught.value.status == status
    if field:
        assert caught.value.field == field
    return caught.value


def test_defaults_filled_and_values_kept():
    assert validate_args(AGENT, "go", {"revision": 20}) == {"revision": 20, "force": False}
    args = {"revision": 1, "servers": ["dev2", "dev4"], "ratio": 1, "count": 2.5,
            "force": True, "extra": {"a": 1}, "cmd": "ls -l", "ip": "10.0.0.1", "ip6": "::1"}
    assert validate_args(AGENT, "go", args) == args


def test_missing_required_and_none_counts_as_missing():
    fails({}, MISSING_DATA, "revision")
    fails({"revision": None}, MISSING_DATA, "revision")


def test_types():
    fails({"revision": "20"}, INVALID_DATA, "revision")
    fails({"revision": True}, INVALID_DATA, "revision")
    fails({"revision": 1, "force": "yes"}, INVALID_DATA, "force")
    fails({"revision": 1, "servers": "dev2"}, INVALID_DATA, "servers")
    fails({"revision": 1, "extra": []}, INVALID_DATA, "extra")
    fails({"revision": 1, "ratio": "1.5"}, INVALID_DATA, "ratio")


def test_validation_regex_maxlength_and_list_items():
    fails({"revision": 123456}, INVALID_DATA, "revision")  # numbers are checked as text
    fails({"revision": -1}, INVALID_DATA, "revision")
    fails({"revision": 1, "servers": ["dev2", "DEV;4"]}, INVALID_DATA, "servers")


@pytest.mark.parametrize("bad", ["a`b`", "$HOME", "a;b", "a|b", "a&b", "a>b", "a<b", "a\nb"])
def test_shellsafe_refuses_what_mcollective_refuses(bad):
    error = fails({"revision": 1, "cmd": bad}, INVALID_DATA, "cmd")
    assert "shellsafe" in error.message


def test_ip_validators():
    fails({"revision": 1, "ip": "300.1.1.1"}, INVALID_DATA, "ip")
    fails({"revision": 1, "ip6": "10.0.0.1"}, INVALID_DATA, "ip6")


def test_unknown_input_and_action():
    error = fails({"revision": 1, "colour": "red"}, INVALID_DATA, "colour")
    assert "known:" in error.message
    with pytest.raises(ValidationError) as caught:
        validate_args(AGENT, "stop", {})
    assert caught.value.status == UNKNOWN_ACTION


def test_sensitive_value_never_in_messages():
    error = fails({"revision": 1, "secret": "Hunter 2"}, INVALID_DATA, "secret")
    assert "Hunter 2" not in error.message
    assert mask_args(AGENT, "go", {"secret": "x", "revision": 1}) == {"secret": "********",
                                                                       "revision": 1}
    assert mask_args(None, "go", {"revision": 1}) == {"revision": "********"}
    assert mask_args(AGENT, "go", {"pasword": "x"}) == {"pasword": "********"}


def test_coerce_from_command_line_strings():
    args = coerce_args(AGENT, "go", {
        "revision": "20", "servers": "dev2,dev4", "ratio": "1.5", "count": "3", "force": "true",
        "extra": '{"a": [1]}', "cmd": "ls", "unknown": "kept",
    })
    assert args == {"revision": 20, "servers": ["dev2", "dev4"], "ratio": 1.5, "count": 3,
                    "force": True, "extra": {"a": [1]}, "cmd": "ls", "unknown": "kept"}
    assert coerce_args(AGENT, "go", {"servers": '["a", "b"]', "force": "no"}) == {
        "servers": ["a", "b"], "force": False}
    assert coerce_args(AGENT, "go", {"revision": 7}) == {"revision": 7}


@pytest.mark.parametrize("name,text", [("revision", "twenty"), ("ratio", "x"),
                                       ("force", "maybe"), ("extra", "[1]"), ("extra", "{")])
def test_coerce_refuses(name, text):
    with pytest.raises(ValidationError) as caught:
        coerce_args(AGENT, "go", {name: text})
    assert caught.value.status == INVALID_DATA and caught.value.field == name


def test_state_dir_resolution():
    assert resolve_state_dir({"ORCH_STATE_DIR": "/s", "ORCH_LAB_DIR": "/lab"}) == "/s"
    assert resolve_state_dir({"ORCH_LAB_DIR": "/lab", "SSH_CONNECTION": "127.0.0.1 5 127.0.1.4 22",
                              "HOME": "/h"}) == "/lab/addr/127.0.1.4"
    assert resolve_state_dir({"HOME": "/home/ops"}) == "/home/ops/.orch"
