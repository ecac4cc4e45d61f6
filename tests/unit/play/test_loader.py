import textwrap

import pytest
from play_fakes import REPO

from orch.errors import InputError
from orch.play.loader import load_play
from orch.play.model import AnnounceStep, CallStep, RollingStep

HEAD = """\
name: t
inputs:
  cluster: {validation: '^[a-z]+$'}
nodes:
  apps: {agent: appmgr, fact: "cluster={{ cluster }}"}
  lbs: {class: haproxy}
steps:
"""


def write(tmp_path, body, name="p.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def refused(tmp_path, registry, steps, head=HEAD):
    path = write(tmp_path, head + textwrap.dedent(steps))
    with pytest.raises(InputError) as error:
        load_play(path, registry, display="p.yml")
    return str(error.value)


@pytest.mark.parametrize("name", ["app_cluster_upgrade.yml", "app_cluster_rolling.yml"])
def test_shipped_plays_load(registry, name):
    play = load_play(REPO / "plays" / name, registry)
    assert play.name == name.removesuffix(".yml")
    assert [s.name for s in play.nodes] == ["lbs", "apps", "notify"]
    assert {spec.name for spec in play.inputs} >= {"backend", "revision", "cluster"}
    assert play.on_fail and isinstance(play.on_fail[0], CallStep)


def test_seed_play_shape(registry):
    play = load_play(REPO / "plays/app_cluster_upgrade.yml", registry)
    calls = [s for s in play.steps if isinstance(s, CallStep)]
    assert [f"{c.module}.{c.action}" for c in calls] == [
        "haproxy.disable", "appmgr.upgrade", "nrpe.runcommand", "haproxy.enable",
        "appmgr.status", "angelianotify.sendmsg"]
    upgrade, check = calls[1], calls[2]
    assert (upgrade.batch_size, upgrade.tries, upgrade.verbose) == (2, 2, True)
    assert check.tries == 10
    assert calls[4].summarize
    assert isinstance(play.steps[0], AnnounceStep)
    assert play.steps[0].where.line == 46


def test_rolling_play_nests_steps(registry):
    play = load_play(REPO / "plays/app_cluster_rolling.yml", registry)
    rolling = next(s for s in play.steps if isinstance(s, RollingStep))
    assert rolling.nodes == "apps"
    assert [s.id for s in rolling.steps] == ["steps[0]", "steps[1]", "steps[2]", "steps[3]"]
    assert rolling.steps[1].nodes == "batch"


@pytest.mark.parametrize("steps,expected", [
    ("  - call: appmgr.upgrade\n    nodes: apps\n    args: {revision: 1}\n    colour: red\n",
     "p.yml:11: steps[0].colour: unknown key 'colour'"),
    ("  - call: frobnicate.now\n    nodes: apps\n",
     "p.yml:8: steps[0].call: module 'frobnicate' is not installed"),
    ("  - call: appmgr.explode\n    nodes: apps\n",
     "p.yml:8: steps[0].call: module 'appmgr' has no action 'explode'"),
    ("  - call: appmgr.upgrade\n    nodes: apps\n    args: {revision: 1, force: true}\n",
     "p.yml:10: steps[0].args.force: appmgr#upgrade takes no input 'force'"),
    ("  - call: appmgr.upgrade\n    nodes: apps\n",
     "p.yml:8: steps[0].args: appmgr#upgrade needs input 'revision'"),
    ("  - call: appmgr.status\n    nodes: webs\n",
     "p.yml:9: steps[0].nodes: unknown node set 'webs'"),
    ("  - announce: 'hello {{ clustre }}'\n",
     "p.yml:8: steps[0].announce: undefined name 'clustre'"),
    ("  - announce: 'hello {{ cluster '\n",
     "p.yml:8: steps[0].announce: template error"),
    ("  - call: appmgr.status\n    nodes: apps\n    batch_size: two\n",
     "p.yml:10: steps[0].batch_size: expected an integer, got 'two'"),
    ("  - call: appmgr.status\n    nodes: apps\n    tries: 0\n",
     "p.yml:10: steps[0].tries: must be at least 1, got 0"),
    ("  - call: appmgr.status\n    nodes: apps\n    max_fail: lots\n",
     "p.yml:10: steps[0].max_fail: expected a count or N%"),
    ("  - call: appmgr.status\n    nodes: apps\n    assert: 'revison == 2'\n",
     "p.yml:10: steps[0].assert: undefined name 'revison'"),
    ("  - announce: hi\n    call: appmgr.status\n",
     "p.yml:8: steps[0]: a step has exactly one of call, announce, assert, play, rolling"),
    ("  - rolling: apps\n    batch_size: 1\n    steps:\n      - call: appmgr.status\n        nodes: bach\n",
     "p.yml:12: steps[0].steps[0].nodes: unknown node set 'bach'"),
    ("  - call: appmgr.status\n    nodes: batch\n",
     "p.yml:9: steps[0].nodes: unknown node set 'batch'"),
])
def test_mistakes_are_refused_with_file_and_line(tmp_path, registry, steps, expected):
    assert refused(tmp_path, registry, steps).startswith(expected)


def test_registered_names_are_known_to_later_steps_only(tmp_path, registry):
    ok = ("  - call: appmgr.status\n    nodes: apps\n    register: st\n"
          "  - announce: '{{ st.ok | length }} ok'\n")
    load_play(write(tmp_path, HEAD + ok), registry)
    early = "  - announce: '{{ st.ok | length }} ok'\n  - call: appmgr.status\n    nodes: apps\n    register: st\n"
    assert "undefined name 'st'" in refused(tmp_path, registry, early)


@pytest.mark.parametrize("head,expected", [
    ("name: t\ninputs:\n  r: {validation: '^(\\d+$'}\nsteps: []\n", "p.yml:3: inputs.r.validation: not a valid regular expression"),
    ("name: t\ninputs:\n  r: {type: integer, default: abc}\nsteps: []\n", "p.yml:3: inputs.r.default: input 'r': expected an integer (ASCII digits) (got 'abc')"),
    ("name: t\ninputs:\n  r: {type: text}\nsteps: []\n", "p.yml:3: inputs.r.type: unknown type 'text'"),
    ("name: t\nrequires: [rpcutil, puppet]\nsteps: []\n", "p.yml:2: requires[1]: module 'puppet' is not installed"),
    ("name: t\nnodes:\n  a: {when_empty: none}\nsteps: []\n", "p.yml:3: nodes.a: a node set needs at least one of"),
    ("name: t\nnodes:\n  a: {class: x, limit: many}\nsteps: []\n", "p.yml:3: nodes.a.limit: expected N or N%"),
    ("steps: []\n", "p.yml:1: name: a play needs a name"),
    ("name: t\nsteps: []\nhandlers: []\n", "p.yml:3: handlers: unknown key 'handlers'"),
    ("- name: t\n", "p.yml:1: a play is a mapping"),
])
def test_bad_play_headers(tmp_path, registry, head, expected):
    assert refused(tmp_path, registry, "", head=head).startswith(expected)


def test_nested_play_inputs_and_cycles(tmp_path, registry):
    write(tmp_path, "name: inner\ninputs:\n  who: {}\nsteps:\n  - announce: 'hi {{ who }}'\n",
          "inner.yml")
    outer = write(tmp_path, "name: outer\nsteps:\n  - play: inner.yml\n    inputs: {who: me}\n",
                  "outer.yml")
    play = load_play(outer, registry)
    assert play.steps[0].play.name == "inner"
    write(tmp_path, "name: outer\nsteps:\n  - play: inner.yml\n", "outer.yml")
    with pytest.raises(InputError, match="needs input 'who'"):
        load_play(outer, registry)
    write(tmp_path, "name: loop\nsteps:\n  - play: loop.yml\n", "loop.yml")
    with pytest.raises(InputError, match="includes itself"):
        load_play(tmp_path / "loop.yml", registry)
