"""The compound selection language of ``-S``: MCollective's matcher, as tokenizer, parser, evaluator.

    cluster=alfa and (web or not os.family=windows)
    /^web/ and !environment=staging
    os.release.major >= 12 or kernel=~/linux/i

A statement with an operator is a fact test (the same operators as ``-F``); a bare word is a
class (an inventory group or a ``classes`` entry); ``/regex/`` is a class regex. ``not`` (or
``!``) binds tightest, then ``and``, then ``or``; parentheses group. Values holding spaces may
be quoted (``motd="hello world"``). MCollective's data functions (``fstat('/x').size>0``)
need a live host and are refused here. Errors name the column, counted from 1.

An expression is at most ``MAX_LENGTH`` characters and nests at most ``MAX_DEPTH`` deep
(each ``(`` and each ``not`` is one level), so a hostile ``-S`` is refused with a message
instead of exhausting the parser's (or the evaluator's) stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from orch.errors import InputError, Where
from orch.select.facts_match import OPERATOR_CHARS, FactTest, make_test
from orch.select.pattern import NamePattern

#: The longest expression accepted, in characters.
MAX_LENGTH = 64 * 1024
#: How deep parentheses and ``not`` may nest.
MAX_DEPTH = 100
_OPERATORS = ("=~", "==", "!=", "<=", ">=", "=>", "=<", "<", ">", "=")
_KEYWORDS = ("and", "or", "not")


@dataclass(frozen=True)
class ClassLeaf:
    pattern: NamePattern


@dataclass(frozen=True)
class FactLeaf:
    test: FactTest


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


@dataclass(frozen=True)
class Not:
    child: object


@dataclass(frozen=True)
class Token:
    kind: str  # ( ) and or not statement end
    text: str
    column: int
    node: object = None


class MatchContext(Protocol):
    """What evaluation asks of the hosts: which of ``candidates`` pass one leaf test."""

    def with_class(self, pattern: NamePattern, candidates: set) -> set: ...

    def with_fact(self, test: FactTest, candidates: set) -> set: ...


def _excerpt(text: str, index: int, width: int = 60) -> str:
    """``text`` quoted, or the part of a long one around ``index`` (an error is one line)."""
    if len(text) <= 2 * width:
        return repr(text)
    start = max(0, min(index - width // 2, len(text) - width))
    part = repr(text[start:start + width])
    return ("..." if start else "") + part + ("..." if start + width < len(text) else "")


class _Scanner:
    def __init__(self, text: str, flag: str):
        self.text = text
        self.flag = flag

    def fail(self, message: str, index: int):
        column = index + 1
        raise InputError(f"{message} in {_excerpt(self.text, index)}",
                         Where(path=self.flag, column=column))

    def where(self, index: int) -> Where:
        return Where(path=self.flag, column=index + 1)

    def skip_spaces(self, index: int) -> int:
        while index < len(self.text) and self.text[index].isspace():
            index += 1
        return index

    def regex_end(self, start: int) -> int:
        """Index after ``/.../flags`` starting at ``start``; backslash escapes a slash."""
        index = start + 1
        while index < len(self.text):
            char = self.text[index]
            if char == "\\":
                index += 2
                continue
            if char == "/":
                index += 1
                while index < len(self.text) and self.text[index] in "imx":
                    index += 1
                return index
            index += 1
        self.fail("unterminated /regex/", start)

    def tokens(self) -> list[Token]:
        found = []
        index = self.skip_spaces(0)
        while index < len(self.text):
            char = self.text[index]
            if char in "()":
                found.append(Token(char, char, index + 1))
                index += 1
            elif char == "!" and self.text[index + 1:index + 2] != "=":
                found.append(Token("not", "!", index + 1))
                index += 1
            else:
                token, index = self.statement(index)
                found.append(token)
            index = self.skip_spaces(index)
        found.append(Token("end", "end of expression", len(self.text) + 1))
        return found

    def statement(self, start: int) -> tuple[Token, int]:
        text = self.text
        if text[start] == "/":
            end = self.regex_end(start)
            if end < len(text) and text[end] in OPERATOR_CHARS:
                self.fail("a /regex/ cannot be compared (write FACT=/regex/)", end)
            if end < len(text) and not (text[end].isspace() or text[end] in "()"):
                self.fail(f"unexpected {text[end]!r} after /regex/", end)
            pattern = NamePattern.parse(text[start:end], self.where(start))
            return Token("statement", text[start:end], start + 1, ClassLeaf(pattern)), end
        end = start
        while end < len(text) and not (text[end].isspace() or text[end] in "()" or text[end] in OPERATOR_CHARS):
            end += 1
        word = text[start:end]
        if not word:
            self.fail(f"expected a class or FACT=VALUE, found {text[start]!r}", start)
        if word in _KEYWORDS and (end == len(text) or text[end].isspace() or text[end] == "("):
            return Token(word, word, start + 1), end
        if end < len(text) and text[end] == "(":
            self.fail(f"data functions such as '{word}(...)' are not supported", start)
        after = self.skip_spaces(end)
        if after < len(text) and text[after] in OPERATOR_CHARS:
            return self.fact(start, word, after)
        pattern = NamePattern.parse(word, self.where(start))
        return Token("statement", word, start + 1, ClassLeaf(pattern)), end

    def fact(self, start: int, key: str, at: int) -> tuple[Token, int]:
        text = self.text
        operator = next((op for op in _OPERATORS if text.startswith(op, at)), None)
        if operator is None:
            self.fail(f"unknown operator starting with {text[at]!r}", at)
        index = self.skip_spaces(at + len(operator))
        if index >= len(text) or text[index] == ")":
            self.fail(f"missing value after '{operator}'", index)
        if text[index] == "/":
            end = self.regex_end(index)
            value = text[index:end]
        elif text[index] in "\"'":
            close = text.find(text[index], index + 1)
            if close < 0:
                self.fail("unterminated quoted value", index)
            value = text[index + 1:close]
            end = close + 1
            if operator == "=":
                operator = "=="  # a quoted value is literal text, never a regex
        else:
            end = index
            while end < len(text) and not (text[end].isspace() or text[end] == ")"):
                end += 1
            value = text[index:end]
        if end < len(text) and not (text[end].isspace() or text[end] in "()"):
            self.fail(f"unexpected {text[end]!r} after the value", end)
        test = make_test(key, operator, value, self.where(start), text[start:end])
        return Token("statement", text[start:end], start + 1, FactLeaf(test)), end


class _Parser:
    def __init__(self, scanner: _Scanner, tokens: list[Token]):
        self.scanner = scanner
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def deeper(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} deep (parentheses and 'not')", token)

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def fail(self, message: str, token: Token):
        self.scanner.fail(message, token.column - 1)

    def parse(self):
        if self.current.kind == "end":
            self.fail("empty expression", self.current)
        node = self.expression()
        token = self.current
        if token.kind == ")":
            self.fail("unmatched ')'", token)
        if token.kind != "end":
            self.fail(f"expected 'and', 'or' or ')' before {token.text!r}", token)
        return node

    def expression(self):
        children = [self.conjunction()]
        while self.current.kind == "or":
            self.index += 1
            children.append(self.conjunction())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def conjunction(self):
        children = [self.negation()]
        while self.current.kind == "and":
            self.index += 1
            children.append(self.negation())
        return children[0] if len(children) == 1 else And(tuple(children))

    def negation(self):
        if self.current.kind == "not":
            self.deeper(self.current)
            self.index += 1
            node = Not(self.negation())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self):
        token = self.current
        if token.kind == "statement":
            self.index += 1
            return token.node
        if token.kind == "(":
            self.deeper(token)
            self.index += 1
            node = self.expression()
            self.depth -= 1
            if self.current.kind != ")":
                if self.current.kind == "end":
                    self.fail(f"missing ')' for the '(' at column {token.column}", self.current)
                self.fail(f"expected 'and', 'or' or ')' before {self.current.text!r}", self.current)
            self.index += 1
            return node
        if token.kind == "end":
            self.fail("expected a class, FACT=VALUE, 'not' or '(' at the end", token)
        self.fail(f"expected a class, FACT=VALUE, 'not' or '(' but found {token.text!r}", token)


def parse_compound(text: str, flag: str = "-S"):
    """Parse a compound expression into a tree of And/Or/Not/ClassLeaf/FactLeaf, or InputError."""
    if len(text) > MAX_LENGTH:
        raise InputError(f"expression of {len(text)} characters, more than the {MAX_LENGTH} "
                         "allowed", Where(path=flag))
    scanner = _Scanner(text, flag)
    return _Parser(scanner, scanner.tokens()).parse()


def evaluate(node, context: MatchContext, candidates: set) -> set:
    """The subset of ``candidates`` (host names) the expression selects, a leaf at a time.

    Set at a time rather than host at a time, so 100,000 hosts cost one pass per leaf; ``and``
    narrows the candidates for its later terms, ``not`` is the candidates minus its operand.
    """
    if isinstance(node, FactLeaf):
        return context.with_fact(node.test, candidates)
    if isinstance(node, ClassLeaf):
        return context.with_class(node.pattern, candidates)
    if isinstance(node, And):
        result = candidates
        for child in node.children:
            if not result:
                break
            result = evaluate(child, context, result)
        return result
    if isinstance(node, Or):
        result: set = set()
        for child in node.children:
            result |= evaluate(child, context, candidates)
        return result
    if isinstance(node, Not):
        return candidates - evaluate(node.child, context, candidates)
    raise TypeError(f"not a compound node: {node!r}")
