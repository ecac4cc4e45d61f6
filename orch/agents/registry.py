"""Find modules, read their declarations, and check that the declarations are well formed.

Modules come from, in this order (the first module of a name wins): the config's
``module_paths``, the ``modules/`` folder shipped beside the ``orch`` package, and the
``orch.modules`` entry-point group of installed packages (the entry point names a Python module
whose file is the agent, e.g. ``appmgr = mypkg.agents.appmgr``; the file is located, never
imported). A module's declaration is read by exec'ing its file in a fresh namespace, which runs
only that file's own top level, and checked at once, so a typo such as ``"requried"`` or an
action without a function is an InputError naming the file, the line and the field, before
anything is sent to a host.

Example::

    registry = load_registry(config)
    spec = registry.get("appmgr")              # AgentSpec
    args = spec.prepare_args("upgrade", {"revision": "20"})   # {"revision": 20}
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orch.agents import authoring, controller_inputs
from orch.agents.aggregate import AGGREGATES
from orch.errors import InputError, Where
from orch.runtime import core

ENTRY_POINT_GROUP = "orch.modules"
# An installed orch carries its modules as package data (orch/shipped_modules, mapped from the
# checkout's modules/ by setup.py); a checkout has them beside the package.
_INSTALLED_MODULES = Path(__file__).resolve().parents[1] / "shipped_modules"
SHIPPED_MODULES = (_INSTALLED_MODULES if _INSTALLED_MODULES.is_dir()
                   else Path(__file__).resolve().parents[2] / "modules")

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_TOP_KEYS = {"name", "description", "version", "author", "license", "url", "timeout", "actions",
             "requires"}
_ACTION_KEYS = {"description", "inputs", "outputs", "aggregate", "display", "check_mode",
                "read_only", "needs_root"}
_ACTION_FLAGS = ("check_mode", "read_only", "needs_root")
_INPUT_KEYS = {"type", "required", "optional", "default", "validation", "maxlength", "sensitive",
               "prompt", "description", "display_as", "enum", "controller", "into", "maxsize"}
_OUTPUT_KEYS = {"display_as", "description", "default", "type"}
_AGGREGATE_KEYS = {"function", "args", "format"}


@dataclass(frozen=True)
class AgentSpec:
    """One module as the controller knows it: where it is, its source and its declaration."""

    name: str
    path: str
    source: bytes = field(repr=False)
    hash: str  # sha256 hex of source, the key the runtime caches modules by
    declaration: dict = field(repr=False)
    helpers: tuple = ()  # authoring.Helper, in the order they are sent (before the module)

    def bundle(self) -> list[tuple[str, str, bytes]]:
        """What a host needs before a request to this module: ``[(wire name, hash, source)]``,
        its helpers first; the channel sends each once per host by hash."""
        return [(helper.wire_name, helper.hash, helper.source) for helper in self.helpers] + [
            (self.name, self.hash, self.source)]

    def resolves_per_host(self, action: str) -> bool:
        """Whether the action has inputs the controller resolves (local files, templates)."""
        return bool(controller_inputs.controller_inputs(self.action(action)))

    def host_args(self, action: str, args: dict, host) -> dict:
        """The arguments ``host`` receives (``controller_inputs.for_host``)."""
        return controller_inputs.for_host(self.name, action, self.action(action), args, host)

    @property
    def version(self) -> str:
        return str(self.declaration.get("version", ""))

    @property
    def description(self) -> str:
        return str(self.declaration.get("description", ""))

    @property
    def timeout(self) -> float:
        return float(self.declaration.get("timeout") or 0)

    def action(self, action: str) -> dict:
        """An action's declaration; InputError naming the known actions if there is none."""
        actions = self.declaration["actions"]
        if action not in actions:
            raise InputError(f"module {self.name} has no action {action!r} "
                             f"(known: {', '.join(sorted(actions))})")
        return actions[action]

    def prepare_args(self, action: str, args: Mapping, coerce: bool = True,
                     where: Where | None = None) -> dict:
        """Arguments for ``action`` as the host will accept them: strings from a command line
        converted to the declared types (when ``coerce``), checked, defaults filled.

        Types text with ``orch.schema`` and checks with the runtime's own ``validate_args``, so a
        request refused here would be refused on the host too. Raises InputError naming the input.
        """
        from orch import schema

        self.action(action)
        try:
            if coerce:
                args = schema.coerce_args(self.declaration, action, dict(args))
            checked = core.validate_args(self.declaration, action, args)
        except core.ValidationError as error:
            place = where or Where(None, None, error.field and f"{self.name}.{action} {error.field}")
            raise InputError(error.message, place) from None
        controller_inputs.check(self.name, action, self.action(action), checked)
        return checked

    def flag(self, action: str, key: str) -> bool:
        """A boolean property the action declares: ``check_mode``, ``read_only``, ``needs_root``.

        ``read_only`` defaults to true for ``rpcutil`` and for actions named ``status``
        (MCollective's read-only conventions), so they take no run lock.
        """
        spec = self.action(action)
        if key in spec:
            return bool(spec[key])
        if key == "read_only":
            return self.name == "rpcutil" or action == "status"
        return False

    def outputs_display(self, action: str) -> dict[str, str]:
        """Output key → its ``display_as`` name, for per-host lines."""
        outputs = self.action(action).get("outputs") or {}
        return {key: str((spec or {}).get("display_as") or key) for key, spec in outputs.items()}

    def sensitive_inputs(self, action: str) -> set[str]:
        """Names of the inputs of ``action`` declared sensitive (to mask in output and logs)."""
        inputs = self.action(action).get("inputs") or {}
        return {name for name, spec in inputs.items() if spec.get("sensitive")}


class Registry:
    """The modules the controller can send, by name; declarations are read on first use."""

    def __init__(self, locations: Mapping[str, Path],
                 more: Callable[[], Iterable[tuple[str, Path]]] | None = None):
        """``more`` lists further (name, file) pairs, asked only when a name is not in
        ``locations`` or every name is wanted (entry points cost ~20 ms to scan)."""
        self._locations = dict(locations)
        self._more = more
        self._specs: dict[str, AgentSpec] = {}

    def _complete(self) -> None:
        if self._more is not None:
            more, self._more = self._more, None
            for name, path in more():
                self._locations.setdefault(name, path)

    def names(self) -> list[str]:
        self._complete()
        return sorted(self._locations)

    def __contains__(self, name: object) -> bool:
        if name not in self._locations:
            self._complete()
        return name in self._locations

    def path(self, name: str) -> Path:
        if name not in self._locations:
            self._complete()
        return self._locations[name]

    def get(self, name: str) -> AgentSpec:
        """The module called ``name``; InputError if there is none or it is malformed."""
        if name not in self:
            raise InputError(f"unknown module {name!r} (known: {', '.join(self.names()) or 'none'})")
        if name not in self._specs:
            self._specs[name] = read_agent(self._locations[name], name)
        return self._specs[name]

    def all(self) -> list[AgentSpec]:
        return [self.get(name) for name in self.names()]


def load_registry(config) -> Registry:
    """The registry over ``config.module_paths``, the shipped modules and entry points."""
    folders = [Path(path) for path in getattr(config, "module_paths", ())] + [SHIPPED_MODULES]
    return Registry(find_modules(folders), _entry_point_files)


def find_modules(folders: Iterable[Path], extra: Iterable[tuple[str, Path]] = ()) -> dict[str, Path]:
    """name -> file over module folders (``<name>.py``, not ``_private.py``) then ``extra``;
    the first of a name wins. A folder that does not exist is skipped."""
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if not path.name.startswith("_"):
                found.setdefault(path.stem, path.resolve())
    for name, path in extra:
        found.setdefault(name, path)
    return found


def _entry_point_files() -> list[tuple[str, Path]]:
    """(name, file) for each ``orch.modules`` entry point, located without importing it."""
    from importlib.metadata import entry_points

    files = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        module_name = entry.value.split(":")[0].strip()
        where = Where(None, None, f"entry point {ENTRY_POINT_GROUP}: {entry.name} = {entry.value}")
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError) as error:
            raise InputError(f"cannot locate module: {error}", where) from None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            raise InputError("entry point does not name a Python source file", where)
        files.append((entry.name, Path(spec.origin)))
    return files


def read_agent(path: Path | str, name: str | None = None) -> AgentSpec:
    """Read and check one module file; InputError with file, line and field if it is wrong."""
    path = Path(path)
    name = name or path.stem
    try:
        source = path.read_bytes()
        text = source.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read module: {error}", Where(str(path))) from None
    helpers = []
    for helper in authoring.requires_literal(text):
        if not authoring.HELPER_NAME.match(helper):
            raise InputError(f"helper name {helper!r} must be lowercase letters, digits and _",
                             Where(str(path), None, "AGENT.requires"))
        try:
            helpers.append(authoring.read_helper(path, helper))
        except OSError as error:
            raise InputError(f"required helper {helper} not found: "
                             f"{authoring.helper_path(path, helper)}: {error.strerror or error}",
                             Where(str(path), None, "AGENT.requires")) from None
    namespace = types.ModuleType(f"orch_module_{name}")
    namespace.__file__ = str(path)
    try:
        code = compile(text, str(path), "exec")
        with authoring.author_imports(helpers):
            exec(code, namespace.__dict__)
    except SyntaxError as error:
        raise InputError(f"syntax error: {error.msg}", Where(str(path), error.lineno)) from None
    except Exception as error:
        raise InputError(f"module raised {type(error).__name__} when loaded: {error}",
                         Where(str(path), _error_line(error, str(path)))) from None
    declaration = getattr(namespace, "AGENT", None)
    lines = _declaration_lines(text)
    if not isinstance(declaration, dict):
        raise InputError("a module must define AGENT = {...} (its declaration)", Where(str(path)))
    check_declaration(declaration, name, vars(namespace), str(path), lines)
    return AgentSpec(name, str(path), source, hashlib.sha256(source).hexdigest(), declaration,
                     tuple(helpers))


def _error_line(error: BaseException, filename: str) -> int | None:
    frame = error.__traceback__
    line = None
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == filename:
            line = frame.tb_lineno
        frame = frame.tb_next
    return line


def _declaration_lines(text: str) -> dict[tuple, int]:
    """Line of each key inside the ``AGENT = {...}`` literal, by key path, for error messages."""
    lines: dict[tuple, int] = {}
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return lines

    def walk(node: ast.AST, path: tuple) -> None:
        lines.setdefault(path, node.lineno)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=False):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    lines[path + (key.value,)] = key.lineno
                    walk(value, path + (key.value,))
        elif isinstance(node, ast.List | ast.Tuple):
            for index, item in enumerate(node.elts):
                walk(item, path + (index,))

    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "AGENT" for target in statement.targets):
            walk(statement.value, ())
    return lines


class _Checker:
    """Walks a declaration; ``fail`` raises InputError at the closest known line."""

    def __init__(self, path: str, lines: Mapping[tuple, int]):
        self.path = path
        self.lines = lines

    def fail(self, keys: tuple, message: str) -> None:
        line = None
        for end in range(len(keys), -1, -1):
            if keys[:end] in self.lines:
                line = self.lines[keys[:end]]
                break
        dotted = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in keys)
        raise InputError(message, Where(self.path, line, "AGENT" + dotted))

    def mapping(self, keys: tuple, value, allowed: set[str] | None = None) -> dict:
        if not isinstance(value, dict):
            self.fail(keys, f"expected a dict, got {type(value).__name__}")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self.fail(keys + (key,), f"unknown key {key!r} (known: {', '.join(sorted(allowed))})")
        return value

    def text(self, keys: tuple, value, required: bool = False) -> None:
        if value is None and not required:
            return
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(keys, "expected a non-empty string" if required else "expected a string")


def check_declaration(declaration: dict, name: str, namespace: Mapping | None = None,
                      path: str = "<module>", lines: Mapping[tuple, int] | None = None) -> None:
    """Raise InputError unless ``declaration`` is a well-formed module declaration named ``name``.

    Checks: known keys only (typos are errors), the name matches the file name, every action
    has a function in ``namespace`` (when given), input types and validators exist, regexes
    compile, defaults fit their type, aggregates name known functions and declared outputs.
    """
    check = _Checker(path, lines or {})
    check.mapping((), declaration, _TOP_KEYS)
    if declaration.get("name") != name:
        check.fail(("name",), f"declared name {declaration.get('name')!r} does not match the file "
                              f"name {name!r}")
    check.text(("description",), declaration.get("description"), required=True)
    version = declaration.get("version")
    if not isinstance(version, str) or not version:
        check.fail(("version",), "expected a version string such as \"1.0\"")
    for key in ("author", "license", "url"):
        check.text((key,), declaration.get(key))
    timeout = declaration.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or timeout <= 0):
        check.fail(("timeout",), "expected a positive number of seconds")
    actions = check.mapping(("actions",), declaration.get("actions"))
    if not actions:
        check.fail(("actions",), "a module needs at least one action")
    for action, spec in actions.items():
        keys = ("actions", action)
        if not isinstance(action, str) or not _NAME.match(action):
            check.fail(keys, "an action name must be lowercase letters, digits and _")
        _check_action(check, keys, spec)
        if namespace is not None and core.action_function(dict(namespace), action) is None:
            check.fail(keys, f"action {action!r} is declared but the module binds no function "
                             f"to it (ACTIONS, @action({action!r}) or def {action}(request))")
    requires = declaration.get("requires")
    if requires is not None and (not isinstance(requires, list) or not all(
            isinstance(item, str) for item in requires)):
        check.fail(("requires",), "expected a list of helper names (module_utils/NAME.py)")


def _check_action(check: _Checker, keys: tuple, spec) -> None:
    check.mapping(keys, spec, _ACTION_KEYS)
    for flag in _ACTION_FLAGS:
        if flag in spec and not isinstance(spec[flag], bool):
            check.fail(keys + (flag,), "expected true or false")
    check.text(keys + ("description",), spec.get("description"))
    inputs = check.mapping(keys + ("inputs",), spec.get("inputs") or {})
    for name, item in inputs.items():
        _check_input(check, keys + ("inputs", name), name, item)
        if isinstance(item, dict) and item.get("into") is not None and item["into"] not in inputs:
            check.fail(keys + ("inputs", name, "into"), f"fills {item['into']!r}, which is not "
                                                        f"a declared input")
    outputs = check.mapping(keys + ("outputs",), spec.get("outputs") or {})
    for name, item in outputs.items():
        check.mapping(keys + ("outputs", name), item, _OUTPUT_KEYS)
        check.text(keys + ("outputs", name, "display_as"), item.get("display_as"))
        check.text(keys + ("outputs", name, "description"), item.get("description"))
    aggregates = spec.get("aggregate") or []
    if not isinstance(aggregates, list):
        check.fail(keys + ("aggregate",), "expected a list of {function, args}")
    for index, item in enumerate(aggregates):
        place = keys + ("aggregate", index)
        check.mapping(place, item, _AGGREGATE_KEYS)
        if item.get("function") not in AGGREGATES:
            check.fail(place + ("function",), f"unknown aggregate function {item.get('function')!r} "
                                              f"(known: {', '.join(AGGREGATES)})")
        args = item.get("args")
        if not isinstance(args, list) or not args or not isinstance(args[0], str):
            check.fail(place + ("args",), "expected a list whose first item names an output")
        if args[0] not in outputs:
            check.fail(place + ("args",), f"aggregate reads {args[0]!r}, which is not a declared "
                                          f"output (declared: {', '.join(sorted(outputs)) or 'none'})")
        fmt = item.get("format")
        if fmt is not None:
            try:
                fmt % 1.5
            except (TypeError, ValueError):
                check.fail(place + ("format",), f"not a %-format for a number: {fmt!r}")


def _check_input(check: _Checker, keys: tuple, name, spec) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        check.fail(keys, "an input name must be lowercase letters, digits and _")
    check.mapping(keys, spec, _INPUT_KEYS)
    kind = spec.get("type")
    if kind not in core.INPUT_TYPES:
        check.fail(keys + ("type",), f"expected one of {', '.join(core.INPUT_TYPES)}, got {kind!r}")
    for flag in ("required", "optional", "sensitive"):
        if flag in spec and not isinstance(spec[flag], bool):
            check.fail(keys + (flag,), "expected true or false")
    maxlength = spec.get("maxlength")
    if maxlength is not None and (isinstance(maxlength, bool) or not isinstance(maxlength, int)
                                  or maxlength < 0):
        check.fail(keys + ("maxlength",), "expected a whole number (0 for no limit)")
    validation = spec.get("validation")
    if validation is not None:
        from orch.schema import check_validation

        problem = check_validation(validation)
        if problem:
            check.fail(keys + ("validation",), problem)
    controller = spec.get("controller")
    if controller is not None:
        if controller not in controller_inputs.KINDS:
            check.fail(keys + ("controller",), f"expected one of "
                                               f"{', '.join(controller_inputs.KINDS)}, got {controller!r}")
        if controller == controller_inputs.LOCAL_FILE and (
                kind != "string" or not isinstance(spec.get("into"), str)):
            check.fail(keys + ("into",), "a local_file input is a string and names the input "
                                         "it fills ('into')")
        if controller == controller_inputs.TEMPLATE and kind != "boolean":
            check.fail(keys + ("type",), "a template input is a boolean")
    maxsize = spec.get("maxsize")
    if maxsize is not None and (isinstance(maxsize, bool) or not isinstance(maxsize, int)
                                or maxsize <= 0):
        check.fail(keys + ("maxsize",), "expected a positive number of bytes")
    enum = spec.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        check.fail(keys + ("enum",), "expected a non-empty list of allowed values")
    for key in ("prompt", "description", "display_as"):
        check.text(keys + (key,), spec.get(key))
    if spec.get("default") is not None:
        try:
            core.check_value(name, spec, spec["default"])
        except core.ValidationError as error:
            check.fail(keys + ("default",), f"default does not fit: {error.message}")
