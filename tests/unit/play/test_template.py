import pytest

from orch.errors import InputError, Where
from orch.play import template

W = Where("p.yml", 7, "steps[1].args")


def test_single_expression_keeps_its_type():
    context = {"nodes": {"apps": ["dev4", "dev5"]}, "revision": 20}
    assert template.render("{{ nodes.apps }}", context, W) == ["dev4", "dev5"]
    assert template.render("{{ revision }}", context, W) == 20
    assert template.render("rev {{ revision }}", context, W) == "rev 20"
    assert template.render({"a": ["{{ nodes.apps | length }}"]}, context, W) == {"a": [2]}


def test_undefined_names_are_errors_with_where():
    with pytest.raises(InputError) as error:
        template.render("{{ nodes.webs }}", {"nodes": {}}, W)
    assert str(error.value).startswith("p.yml:7: steps[1].args: template error")
    with pytest.raises(InputError):
        template.render("x {{ missing }} y", {}, W)


def test_check_finds_undefined_names_before_running():
    template.check({"a": "{{ cluster | upper }}"}, {"cluster"}, W)
    with pytest.raises(InputError, match="undefined name 'clustre'"):
        template.check(["{{ clustre }}"], {"cluster"}, W)


def test_evaluate_conditions():
    assert template.evaluate("load < 1.5", {"load": 0.4}, W) is True
    assert template.evaluate("{{ load < 1.5 }}", {"load": 3}, W) is False


# -- hostile templates: refused at load or an InputError at run time, never a traceback ------

@pytest.mark.parametrize("text, name", [
    ("{{ x | nosuchfilter }}", "unknown filter 'nosuchfilter'"),
    ("a {{ x | upper | nosuchfilter(1) }} b", "unknown filter 'nosuchfilter'"),
    ("{% if x is nosuchtest %}a{% endif %}", "unknown test 'nosuchtest'"),
    ("{% filter nosuchfilter %}a{% endfilter %}", "unknown filter 'nosuchfilter'"),
    ("{% include 'other.j2' %}", "include"),
])
def test_unknown_filters_and_tests_are_refused_at_load(text, name):
    with pytest.raises(InputError) as error:
        template.check_names(text, W)
    assert str(error.value).startswith("p.yml:7: steps[1].args: ") and name in str(error.value)
    with pytest.raises(InputError, match=name):  # the loader's own check finds them too
        template.check({"a": [text]}, {"x"}, W)


def test_unknown_test_in_a_condition_is_refused_at_load():
    with pytest.raises(InputError, match="unknown test 'nosuchtest'"):
        template.check_expression("x is nosuchtest", {"x"}, W)


@pytest.mark.parametrize("text", [
    "{{ 1/0 }}", "a {{ 1/0 }} b", "{{ 1 // 0 }}", "{{ 10.0 ** 1000 }}", "x {{ 10.0 ** 1000 }}",
    "{{ 'a' + 1 }}", "{{ 'a' * 10 ** 12 }}", "{{ 7 ** (10 ** 9) }}", "x {{ 10 ** 5000 }}",
    "{{ x.__class__ }}", "{{ range(10 ** 9) | list }}",
])
def test_run_time_failures_are_input_errors_naming_the_field(text):
    with pytest.raises(InputError) as error:
        template.render(text, {"x": 1}, W)
    assert str(error.value).startswith("p.yml:7: steps[1].args: ")


def test_run_time_failures_in_conditions_are_input_errors():
    with pytest.raises(InputError, match="ZeroDivisionError"):
        template.evaluate("load / 0 > 1", {"load": 1}, W)


@pytest.mark.parametrize("text", [
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{{ x" + " | upper" * 3000 + " }}",
    "{{ " + "not " * 3000 + "x }}",
    "{{ x }}" * (template.MAX_LENGTH // 7 + 1),
])
def test_long_or_deep_templates_are_refused(text):
    with pytest.raises(InputError, match="more than"):
        template.check_names(text, W)
    with pytest.raises(InputError, match="more than"):
        template.render(text, {"x": "a"}, W)


def test_the_sandbox_keeps_ordinary_templates_working():
    context = {"nodes": {"apps": ["dev4", "dev5"]}, "revision": 20}
    assert template.render("{{ 'ab' * 2 }}-{{ 2 ** 10 }}-{{ nodes.apps | join(',') }}",
                           context, W) == "abab-1024-dev4,dev5"
    assert template.render("{{ [1] * 3 }}", context, W) == [1, 1, 1]
    template.check_names("{% for a in nodes.apps %}{{ a | upper }}{% endfor %}", W)
