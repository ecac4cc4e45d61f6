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
