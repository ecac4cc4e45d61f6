"""Play files (YAML) → ``Play``, with every check done before anything runs.

Each mistake is an InputError naming ``file:line: path``: unknown keys, wrong types, a
``call`` of a module or action that does not exist, args the action does not take, a node set
that is not declared, a template with a syntax error or an undefined name, a nested play that
includes itself. The registry is anything with ``names()`` and ``get(name).declaration``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Protocol

from orch.errors import InputError, Where
from orch.play import template
from orch.play.model import (
    INPUT_TYPES,
    AnnounceStep,
    AssertStep,
    CallStep,
    InputSpec,
    NodeSet,
    Play,
    PlayStep,
    RollingStep,
)
from orch.play.yamlfile import LineDict, LineList, load_yaml, read_play_text
from orch.schema import check_validation


class Registry(Protocol):
    def names(self) -> Any: ...

    def get(self, name: str) -> Any: ...


PLAY_KEYS = ("name", "description", "requires", "inputs", "nodes", "steps", "on_fail", "on_success",
             "on_interrupt", "become")
INPUT_KEYS = ("prompt", "type", "validation", "default", "sensitive", "description", "maxlength",
              "enum")
NODE_KEYS = ("class", "fact", "identity", "agent", "select", "limit", "when_empty", "ping", "at_least",
             "lock", "become")
CALL_KEYS = ("call", "name", "nodes", "args", "batch_size", "batch_sleep", "tries", "try_sleep",
             "timeout", "verbose", "summarize", "fail_ok", "max_fail", "assert", "register", "resume",
             "become", "become_user", "check")
STEP_KINDS = ("call", "announce", "assert", "play", "rolling")
OTHER_KEYS = {
    "announce": ("announce", "name"),
    "assert": ("assert", "message", "name"),
    "play": ("play", "inputs", "name"),
    "rolling": ("rolling", "name", "batch_size", "batch_sleep", "steps"),
}
# Names every template may use besides inputs and registered results.
CONTEXT_NAMES = frozenset({"inputs", "nodes", "user", "run_id", "play"})
REPLY_NAMES = frozenset({"host", "status", "message", "data"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STEP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ -]{0,99}\Z")


def load_play(path: str | os.PathLike, registry: Registry | None, display: str | None = None) -> Play:
    """Read and check a YAML play; ``display`` is how errors name the file (default: as given)."""
    return _Loader(registry).load(Path(path), display or str(path), ())


class _Loader:
    def __init__(self, registry: Registry | None):
        self.registry = registry
        self._module_names: set[str] | None = None

    # -- helpers -------------------------------------------------------------------------------
    def modules(self) -> set[str]:
        if self._module_names is None:
            self._module_names = set(self.registry.names()) if self.registry is not None else set()
        return self._module_names

    def declaration(self, module: str) -> dict | None:
        if self.registry is None:
            return None
        spec = self.registry.get(module)
        return getattr(spec, "declaration", None)

    # -- the file ------------------------------------------------------------------------------
    def load(self, path: Path, display: str, stack: tuple) -> Play:
        resolved = path.resolve()
        if resolved in stack:
            raise InputError("a play includes itself", Where(display))
        text = read_play_text(path, display)
        data = load_yaml(text, display)
        return _PlayParser(self, display, path.parent, stack + (resolved,)).parse(data)


class _PlayParser:
    def __init__(self, loader: _Loader, file: str, folder: Path, stack: tuple):
        self.loader, self.file, self.folder, self.stack = loader, file, folder, stack

    def where(self, container: Any, key: Any, path: str) -> Where:
        line = container.line_of(key) if isinstance(container, LineDict | LineList) else None
        return Where(self.file, line, path)

    def fail(self, message: str, container: Any, key: Any, path: str):
        raise InputError(message, self.where(container, key, path))

    def check_keys(self, mapping: LineDict, allowed, path: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.fail(f"unknown key {key!r} (known: {', '.join(allowed)})", mapping, key,
                          f"{path}.{key}" if path else str(key))

    def mapping(self, value: Any, container: Any, key: Any, path: str) -> LineDict:
        if not isinstance(value, LineDict):
            self.fail(f"expected a mapping, got {_kind(value)}", container, key, path)
        return value

    def string(self, value: Any, container: Any, key: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(f"expected a non-empty string, got {_kind(value)}", container, key, path)
        return value

    def boolean(self, value: Any, container: Any, key: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(f"expected true or false, got {_kind(value)}", container, key, path)
        return value

    def number(self, value: Any, container: Any, key: Any, path: str, known, minimum: float,
               integer: bool = True) -> Any:
        """A literal number (checked now) or a template (checked for names, typed at run time)."""
        if template.is_template(value):
            template.check(value, known, self.where(container, key, path))
            return value
        ok_type = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type):
            self.fail(f"expected {'an integer' if integer else 'a number'}, got {_kind(value)}",
                      container, key, path)
        if value < minimum:
            self.fail(f"must be at least {minimum:g}, got {value}", container, key, path)
        return value

    # -- top level -----------------------------------------------------------------------------
    def parse(self, data: Any) -> Play:
        if not isinstance(data, LineDict):
            raise InputError(f"a play is a mapping with {', '.join(PLAY_KEYS)}; got {_kind(data)}",
                             Where(self.file, getattr(data, "line", 1)))
        self.check_keys(data, PLAY_KEYS, "")
        if "name" not in data:
            self.fail("a play needs a name", data, None, "name")
        name = self.string(data["name"], data, "name", "name")
        description = data.get("description") or ""
        if not isinstance(description, str):
            self.fail("expected a string", data, "description", "description")
        requires = self.requires(data.get("requires"), data)
        inputs = self.inputs(data.get("inputs"), data)
        self.input_names = {spec.name for spec in inputs}
        self.node_names: set[str] = set()
        base = set(CONTEXT_NAMES) | self.input_names
        nodes = self.nodes(data.get("nodes"), data, base)
        self.registered: set[str] = set()
        if "steps" not in data:
            self.fail("a play needs steps", data, None, "steps")
        steps = self.steps(data["steps"], data, "steps", "steps", base, in_rolling=False)
        after = base | self.registered
        on_fail = self.steps(data.get("on_fail", LineList()), data, "on_fail", "on_fail", after, False)
        on_success = self.steps(data.get("on_success", LineList()), data, "on_success", "on_success",
                                after, False)
        on_interrupt = None
        if "on_interrupt" in data:
            on_interrupt = self.steps(data["on_interrupt"], data, "on_interrupt", "on_interrupt",
                                      after, False)
        become = data.get("become")
        if become is not None:
            become = self.boolean(become, data, "become", "become")
        return Play(name=name, file=self.file, description=description, requires=requires,
                    inputs=inputs, nodes=nodes, steps=steps, on_fail=on_fail, on_success=on_success,
                    on_interrupt=on_interrupt, become=become)

    def requires(self, value: Any, data: LineDict) -> tuple:
        if value is None:
            return ()
        if not isinstance(value, LineList):
            self.fail("expected a list of module names", data, "requires", "requires")
        for index, name in enumerate(value):
            path = f"requires[{index}]"
            self.string(name, value, index, path)
            if self.loader.registry is not None and name not in self.loader.modules():
                self.fail(f"module {name!r} is not installed (found: "
                          f"{', '.join(sorted(self.loader.modules())) or 'none'})", value, index, path)
        return tuple(value)

    def inputs(self, value: Any, data: LineDict) -> tuple:
        if value is None:
            return ()
        value = self.mapping(value, data, "inputs", "inputs")
        specs = []
        for name, body in value.items():
            path = f"inputs.{name}"
            if not isinstance(name, str) or not _NAME.match(name) or name in CONTEXT_NAMES:
                self.fail(f"input name {name!r} must be an identifier and not one of "
                          f"{', '.join(sorted(CONTEXT_NAMES))}", value, name, path)
            if body is None:
                body = LineDict()
                body.line = value.line_of(name)
            body = self.mapping(body, value, name, path)
            self.check_keys(body, INPUT_KEYS, path)
            kind = body.get("type", "string")
            if kind not in INPUT_TYPES:
                self.fail(f"unknown type {kind!r} (known: {', '.join(INPUT_TYPES)})", body, "type",
                          f"{path}.type")
            validation = body.get("validation")
            if validation is not None:
                problem = check_validation(validation)  # a validator name or a regex
                if problem:
                    self.fail(problem, body, "validation", f"{path}.validation")
            sensitive = self.boolean(body.get("sensitive", False), body, "sensitive", f"{path}.sensitive")
            maxlength = body.get("maxlength", 0)
            if isinstance(maxlength, bool) or not isinstance(maxlength, int) or maxlength < 0:
                self.fail("expected a whole number (0: no limit)", body, "maxlength",
                          f"{path}.maxlength")
            enum = body.get("enum", [])
            if not isinstance(enum, list):
                self.fail("expected a list of allowed values", body, "enum", f"{path}.enum")
            prompt = body.get("prompt") or name
            spec = InputSpec(name=name, where=self.where(value, name, path), prompt=str(prompt),
                             type=kind, validation=validation, default=body.get("default"),
                             sensitive=sensitive, description=str(body.get("description") or ""),
                             has_default="default" in body, maxlength=maxlength,
                             enum=tuple(enum))
            if spec.has_default:
                from orch.play.inputs import convert

                convert(spec, spec.default, self.where(body, "default", f"{path}.default"))
            specs.append(spec)
        return tuple(specs)

    def nodes(self, value: Any, data: LineDict, known: set) -> tuple:
        if value is None:
            return ()
        value = self.mapping(value, data, "nodes", "nodes")
        sets = []
        for name, body in value.items():
            path = f"nodes.{name}"
            if not isinstance(name, str) or not _NAME.match(name) or name == "batch":
                self.fail(f"node set name {name!r} must be an identifier other than 'batch'",
                          value, name, path)
            body = self.mapping(body, value, name, path)
            self.check_keys(body, NODE_KEYS, path)
            lists = {}
            for key in ("class", "fact", "identity", "agent", "select"):
                items = body.get(key, [])
                if isinstance(items, str):
                    items = [items]
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    self.fail("expected a string or a list of strings", body, key, f"{path}.{key}")
                template.check(items, known, self.where(body, key, f"{path}.{key}"))
                lists[key] = tuple(items)
            if not any(lists.values()):
                self.fail("a node set needs at least one of class, fact, identity, agent, select",
                          value, name, path)
            limit = body.get("limit")
            if limit is not None:
                if isinstance(limit, bool) or not isinstance(limit, int | str):
                    self.fail("expected N or N%", body, "limit", f"{path}.limit")
                template.check(limit, known, self.where(body, "limit", f"{path}.limit"))
                if not template.is_template(limit) and not re.fullmatch(r"\d+%?", str(limit)):
                    self.fail(f"expected N or N%, got {limit!r}", body, "limit", f"{path}.limit")
                limit = str(limit) if not template.is_template(limit) else limit
            when_empty = body.get("when_empty")
            if when_empty is not None:
                self.string(when_empty, body, "when_empty", f"{path}.when_empty")
                template.check(when_empty, known, self.where(body, "when_empty", f"{path}.when_empty"))
            ping = self.boolean(body.get("ping", False), body, "ping", f"{path}.ping")
            lock = self.boolean(body.get("lock", True), body, "lock", f"{path}.lock")
            become = body.get("become")
            if become is not None:
                become = self.boolean(become, body, "become", f"{path}.become")
            at_least = body.get("at_least")
            if at_least is not None:
                at_least = self.number(at_least, body, "at_least", f"{path}.at_least", known, 1)
            sets.append(NodeSet(
                name=name, where=self.where(value, name, path), classes=lists["class"],
                facts=lists["fact"], identities=lists["identity"], agents=lists["agent"],
                compound=lists["select"], limit=limit, when_empty=when_empty, ping=ping,
                at_least=at_least, lock=lock, become=become))
            self.node_names.add(name)
        return tuple(sets)

    # -- steps ---------------------------------------------------------------------------------
    def steps(self, value: Any, container: Any, key: Any, path: str, known: set,
              in_rolling: bool) -> tuple:
        if not isinstance(value, LineList):
            self.fail(f"expected a list of steps, got {_kind(value)}", container, key, path)
        steps = []
        names: set[str] = set()
        for index, body in enumerate(value):
            step_path = f"{path}[{index}]"
            body = self.mapping(body, value, index, step_path)
            kinds = [kind for kind in STEP_KINDS if kind in body]
            if "call" in kinds and "assert" in kinds:  # a call's assert is over its replies
                kinds.remove("assert")
            if len(kinds) != 1:
                self.fail(f"a step has exactly one of {', '.join(STEP_KINDS)}"
                          + (f" (found {', '.join(kinds)})" if kinds else ""), value, index, step_path)
            kind = kinds[0]
            step_id = f"steps[{index}]" if path.endswith("steps") else step_path
            if "name" in body:
                # Named steps are keyed by their name (journal, --resume): inserting a step
                # before them does not change what a resumed run thinks succeeded.
                label = self.string(body["name"], body, "name", f"{step_path}.name")
                if not _STEP_NAME.match(label) or label in names:
                    self.fail(f"step name {label!r} must be unique in its list and made of "
                              "letters, digits, '_', '-' and spaces", body, "name",
                              f"{step_path}.name")
                names.add(label)
                step_id = label if path.endswith("steps") else f"{path}.{label}"
            scope = known | self.registered | ({"batch", "batch_index"} if in_rolling else set())
            parse = getattr(self, f"step_{kind}")
            steps.append(parse(body, step_id, step_path, scope, in_rolling))
        return tuple(steps)

    def step_announce(self, body, step_id, path, known, in_rolling):
        self.check_keys(body, OTHER_KEYS["announce"], path)
        text = body["announce"]
        if not isinstance(text, str | int | float) or isinstance(text, bool):
            self.fail("expected a text", body, "announce", f"{path}.announce")
        where = self.where(body, "announce", f"{path}.announce")
        template.check(str(text), known, where)
        return AnnounceStep(id=step_id, where=where, text=str(text))

    def step_assert(self, body, step_id, path, known, in_rolling):
        self.check_keys(body, OTHER_KEYS["assert"], path)
        that = body["assert"]
        where = self.where(body, "assert", f"{path}.assert")
        if isinstance(that, bool):
            that = "true" if that else "false"
        self.string(that, body, "assert", f"{path}.assert")
        template.check_expression(that, known, where)
        message = body.get("message") or ""
        template.check(message, known, where)
        return AssertStep(id=step_id, where=where, that=that, message=str(message))

    def node_ref(self, body, key, path, in_rolling) -> str:
        name = body.get(key)
        if name is None:
            self.fail(f"missing {key!r}: the node set to act on", body, None, f"{path}.{key}")
        self.string(name, body, key, f"{path}.{key}")
        allowed = set(self.node_names) | ({"batch"} if in_rolling else set())
        if name not in allowed:
            self.fail(f"unknown node set {name!r} (declared: {', '.join(sorted(allowed)) or 'none'})",
                      body, key, f"{path}.{key}")
        return name

    def step_call(self, body, step_id, path, known, in_rolling):
        self.check_keys(body, CALL_KEYS, path)
        where = self.where(body, "call", f"{path}.call")
        target = self.string(body["call"], body, "call", f"{path}.call")
        module, dot, action = target.partition(".")
        if not dot or not _NAME.match(module) or not _NAME.match(action):
            self.fail(f"expected module.action, got {target!r}", body, "call", f"{path}.call")
        declaration = None
        if self.loader.registry is not None:
            if module not in self.loader.modules():
                self.fail(f"module {module!r} is not installed (found: "
                          f"{', '.join(sorted(self.loader.modules())) or 'none'})", body, "call",
                          f"{path}.call")
            declaration = self.loader.declaration(module) or {}
            actions = declaration.get("actions", {})
            if action not in actions:
                self.fail(f"module {module!r} has no action {action!r} (actions: "
                          f"{', '.join(sorted(actions))})", body, "call", f"{path}.call")
        nodes = self.node_ref(body, "nodes", path, in_rolling)
        args = body.get("args", LineDict())
        args = self.mapping(args, body, "args", f"{path}.args")
        for name in args:
            template.check(args[name], known, self.where(args, name, f"{path}.args.{name}"))
        outputs: set[str] = set()
        if declaration is not None:
            spec = declaration["actions"][action]
            declared = spec.get("inputs", {}) or {}
            outputs = set((spec.get("outputs") or {}).keys())
            for name in args:
                if name not in declared:
                    self.fail(f"{module}#{action} takes no input {name!r} (inputs: "
                              f"{', '.join(sorted(declared)) or 'none'})", args, name,
                              f"{path}.args.{name}")
            for name, input_spec in declared.items():
                required = input_spec.get("required", not input_spec.get("optional", True))
                if required and "default" not in input_spec and name not in args:
                    self.fail(f"{module}#{action} needs input {name!r}", body, "call", f"{path}.args")
            self.literal_args(declaration, module, action, args, path)
        numbers = {}
        for key, minimum, integer in (("batch_size", 0, True), ("batch_sleep", 0, False),
                                      ("tries", 1, True), ("try_sleep", 0, False),
                                      ("timeout", 0.001, False)):
            if key in body and body[key] is not None:
                numbers[key] = self.number(body[key], body, key, f"{path}.{key}", known, minimum, integer)
        flags = {key: self.boolean(body.get(key, False), body, key, f"{path}.{key}")
                 for key in ("verbose", "summarize", "fail_ok")}
        max_fail = body.get("max_fail", 0)
        if isinstance(max_fail, str) and not template.is_template(max_fail):
            if not re.fullmatch(r"\d+(\.\d+)?%", max_fail.strip()):
                self.fail(f"expected a count or N%, got {max_fail!r}", body, "max_fail", f"{path}.max_fail")
        else:
            max_fail = self.number(max_fail, body, "max_fail", f"{path}.max_fail", known, 0)
        condition = body.get("assert")
        if condition is not None:
            self.string(condition, body, "assert", f"{path}.assert")
            reply_names = known | REPLY_NAMES | (outputs if declaration is not None else set())
            if declaration is not None:
                template.check_expression(condition, reply_names,
                                          self.where(body, "assert", f"{path}.assert"))
        register = body.get("register")
        if register is not None:
            self.string(register, body, "register", f"{path}.register")
            if not _NAME.match(register) or register in CONTEXT_NAMES | self.input_names:
                self.fail(f"register name {register!r} must be an identifier not used by an input",
                          body, "register", f"{path}.register")
            self.registered.add(register)
        resume = body.get("resume", "skip")
        if resume not in ("skip", "rerun"):
            self.fail(f"expected skip or rerun, got {resume!r}", body, "resume", f"{path}.resume")
        name = body.get("name") or ""
        escalation = {}
        for key in ("become", "check"):
            if body.get(key) is not None:
                escalation[key] = self.boolean(body[key], body, key, f"{path}.{key}")
        if body.get("become_user") is not None:
            escalation["become_user"] = self.string(body["become_user"], body, "become_user",
                                                    f"{path}.become_user")
        return CallStep(
            id=step_id, where=where, module=module, action=action, nodes=nodes, args=dict(args),
            batch_size=numbers.get("batch_size", 0), batch_sleep=numbers.get("batch_sleep", 0),
            tries=numbers.get("tries", 1), try_sleep=numbers.get("try_sleep", 10),
            timeout=numbers.get("timeout"), verbose=flags["verbose"], summarize=flags["summarize"],
            fail_ok=flags["fail_ok"], max_fail=max_fail, condition=condition, register=register,
            rerun_on_resume=resume == "rerun", name=str(name), **escalation)

    def literal_args(self, declaration: dict, module: str, action: str, args: LineDict,
                     path: str) -> None:
        """Type-check the args that hold no template now, as the call will (the same coercion
        and checks as ``prepare_args`` at run time): a literal that the action would refuse
        fails the load, not the run after the servers are out of the load balancer."""
        from orch import schema
        from orch.runtime import core

        declared = declaration["actions"][action].get("inputs") or {}
        for name, value in args.items():
            where = self.where(args, name, f"{path}.args.{name}")
            if _has_nul(value):
                raise InputError("a NUL byte is not allowed in an argument", where)
            if value is None or _has_template(value):
                continue
            try:
                typed = schema.coerce_args(declaration, action, {name: value})[name]
                core.check_value(name, declared[name], typed)
            except core.ValidationError as error:
                raise InputError(f"{module}#{action}: {error.message}", where) from None

    def step_rolling(self, body, step_id, path, known, in_rolling):
        self.check_keys(body, OTHER_KEYS["rolling"], path)
        where = self.where(body, "rolling", f"{path}.rolling")
        if in_rolling:
            self.fail("a rolling step cannot be nested in another", body, "rolling", f"{path}.rolling")
        nodes = self.node_ref(body, "rolling", path, in_rolling)
        if "batch_size" not in body:
            self.fail("a rolling step needs batch_size", body, "rolling", f"{path}.batch_size")
        batch_size = self.number(body["batch_size"], body, "batch_size", f"{path}.batch_size", known, 1)
        batch_sleep = self.number(body.get("batch_sleep", 0), body, "batch_sleep",
                                  f"{path}.batch_sleep", known, 0, integer=False)
        if "steps" not in body:
            self.fail("a rolling step needs steps", body, "rolling", f"{path}.steps")
        steps = self.steps(body["steps"], body, "steps", f"{path}.steps", known, in_rolling=True)
        return RollingStep(id=step_id, where=where, nodes=nodes, batch_size=batch_size,
                           steps=steps, batch_sleep=batch_sleep)

    def step_play(self, body, step_id, path, known, in_rolling):
        self.check_keys(body, OTHER_KEYS["play"], path)
        where = self.where(body, "play", f"{path}.play")
        target = self.string(body["play"], body, "play", f"{path}.play")
        file = (self.folder / target)
        shown = os.path.join(os.path.dirname(self.file), target) if self.file else target
        inner = _Loader(self.loader.registry)
        inner._module_names = self.loader._module_names
        try:
            play = inner.load(file, shown, self.stack)
        except InputError as error:
            if error.where is not None and error.where.file == shown and error.where.line is None:
                raise InputError(error.message, where) from None
            raise
        inputs = body.get("inputs", LineDict())
        inputs = self.mapping(inputs, body, "inputs", f"{path}.inputs")
        names = {spec.name for spec in play.inputs}
        for name, value in inputs.items():
            if name not in names:
                self.fail(f"play {target!r} takes no input {name!r} (inputs: "
                          f"{', '.join(sorted(names)) or 'none'})", inputs, name, f"{path}.inputs.{name}")
            template.check(value, known, self.where(inputs, name, f"{path}.inputs.{name}"))
        for spec in play.inputs:
            if not spec.has_default and spec.name not in inputs:
                self.fail(f"play {target!r} needs input {spec.name!r}", body, "play", f"{path}.inputs")
        return PlayStep(id=step_id, where=where, play=play, inputs=dict(inputs))


def _has_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_template(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_template(item) for item in value)
    return template.is_template(value)


def _has_nul(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return isinstance(value, str) and "\x00" in value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
