"""CallOptions: one default per option, ranges checked wherever the options are built."""

import math

import pytest

from orch.errors import InputError
from orch.rpc import options
from orch.rpc.options import CallOptions


def test_one_default_for_every_front_end():
    from orch.play.model import CallStep

    assert CallOptions().try_sleep == 10.0  # the seed's sleep between tries
    step_default = CallStep.__dataclass_fields__["try_sleep"].default
    assert float(step_default) == CallOptions().try_sleep
    import inspect

    from orch.play.python_play import PlayApi
    assert inspect.signature(PlayApi.call).parameters["try_sleep"].default is None  # → CallOptions


@pytest.mark.parametrize("name, value", [
    ("tries", 0), ("tries", -3), ("tries", "0"), ("batch_size", -1), ("timeout", 0),
    ("concurrency", 0), ("try_sleep", math.nan), ("try_sleep", math.inf), ("try_sleep", 1e9),
    ("try_sleep", "nan"), ("batch_sleep", "1e9"), ("tries", "٣"), ("tries", "1_0"),
    ("max_fail", "150%"), ("max_fail", -1), ("verbose", "yes"),
])
def test_bad_values_are_input_errors_naming_the_option(name, value):
    with pytest.raises(InputError) as error:
        CallOptions.build({name: value})
    assert name in str(error.value)


def test_durations_and_percentages():
    built = CallOptions.build({"try_sleep": "500ms", "batch_sleep": "2m", "max_fail": "25%",
                               "timeout": "1.5"})
    assert (built.try_sleep, built.batch_sleep, built.timeout) == (0.5, 120.0, 1.5)
    assert built.allowed_failures(8) == 2
    assert CallOptions(max_fail=3).allowed_failures(100) == 3


def test_help_names_defaults_and_ranges():
    assert "default 10s" in options.describe("try_sleep")
    assert "1–100" in options.describe("tries")


@pytest.mark.parametrize("flag, value", [
    ("--tries", "0"), ("--tries", "-3"), ("--batch", "-1"), ("--timeout", "0"),
    ("--concurrency", "0"), ("--try-sleep", "nan"),
])
def test_orch_call_refuses_bad_options_before_anything(tmp_path, flag, value):
    from test_schema import cli

    code, out, err = cli(["call", "rpcutil.ping", "-I", "dev1", flag, value], tmp_path)
    assert code == 2 and out == "" and flag in err, err
