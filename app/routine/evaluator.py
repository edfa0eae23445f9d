"""The tree walker behind ``evaluate()`` and ``render()``: simpleeval's, with every step
charged to a :class:`~app.routine.budget.Budget` and every value measured before it is built."""

from __future__ import annotations

import ast
import functools
import heapq
import itertools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import simpleeval

from app.routine.budget import (
    EXPRESSION_STEPS,
    LOOP_STEPS,
    NODE_STEPS,
    PARSE_STEPS,
    VISIT_STEPS,
    Budget,
    ExpressionError,
    kind,
    too_large,
)
from app.routine.functions import NAMES as FUNCTION_NAMES
from app.routine.functions import make_functions, text_of
from app.routine.limits import MAX_NESTING, MAX_VALUE_SIZE, MAX_WORK
from app.routine.operators import (
    COMPARISONS,
    UNARY,
    binary_operators,
    charge_comparison,
    short,
)
from app.routine.problems import join_path
from app.routine.references import LazyValue, NeedsData, is_ref
from app.routine.syntax import compile_expression
from app.routine.templates import single_expression, source, template_spans

NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_DEEP = (str, list, tuple, dict)
_CONVERSIONS = {ord("s"): str, ord("r"): repr, ord("a"): ascii}
_DIGITS = re.compile(r"\d+")


def clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


Resolver = Callable[[dict[str, Any]], Any]
"""Turns a reference into its content, or a :class:`LazyValue` of it (on a worker)."""


class Evaluator(simpleeval.EvalWithCompoundTypes):
    """One ``evaluate()`` or ``render()`` call over one context, under one budget."""

    def __init__(self, names: Mapping[str, Any], budget: Budget,
                 resolve: Resolver | None = None):
        self.budget = budget
        self.resolve = resolve
        self.scopes: list[dict[str, Any]] = []
        self.context_names = tuple(names)
        super().__init__(operators={}, functions={}, names={**NAMES, **names})
        self.nodes.pop(ast.Set, None)

    # simpleeval's own ``functions`` and ``operators`` stay empty: every walker step that
    # calls or operates is overridden below and uses these, bound to this call's budget.
    # They are built on first use: a render makes one Evaluator, and most templates only
    # read fields (building both cost ~10 us, a third of rendering a typical node's config).
    @functools.cached_property
    def calls(self) -> dict[str, Callable[..., Any]]:
        return make_functions(self.budget)

    @functools.cached_property
    def operations(self) -> dict[type, Callable[..., Any]]:
        return {**binary_operators(self.budget), **UNARY}

    # --- entry points -----------------------------------------------------------------
    def evaluate(self, expression: str, path: str = "", text: bool = False) -> Any:
        """One expression's value (or its text, to interpolate); any failure ExpressionError."""
        compiled = compile_expression(expression)
        if isinstance(compiled, str):
            raise ExpressionError(compiled, expression, path)
        try:
            self.budget.spend(EXPRESSION_STEPS + PARSE_STEPS * len(expression))
            self.expr = expression
            value = self._eval(compiled.body)
            if isinstance(value, LazyValue):
                value = self._loaded(value)
            return self._as_text(value) if text else self.budget.result(value)
        except NeedsData:
            raise
        except ExpressionError as exc:
            message = str(exc)
        except KeyError as exc:
            message = f"no key {short(exc.args[0]) if exc.args else ''}"
        except RecursionError:
            message = "the expression or its data is nested too deeply"
        except MemoryError:
            message = "not enough memory to evaluate it"
        except (TypeError, ValueError, ZeroDivisionError, IndexError,
                simpleeval.InvalidExpression) as exc:
            message = str(exc) or type(exc).__name__
        except Exception as exc:  # any Python error fails the node, never the workflow task
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ExpressionError(f"{clip(message)} in '{expression}'", expression, path) from None

    def render(self, value: Any, path: str, depth: int) -> Any:
        if isinstance(value, str):
            if "{{" not in value:
                return value
            self.budget.scan(len(value))
            expression = single_expression(value)
            if expression is not None:
                return self.evaluate(expression, path)
            return self._interpolate(value, path)
        if isinstance(value, list | dict):
            if depth > MAX_NESTING:
                raise ExpressionError(f"the value is nested deeper than {MAX_NESTING} levels",
                                      "", path)
            self.budget.spend(VISIT_STEPS * (len(value) + 1))
            if isinstance(value, list):
                return [self.render(item, join_path(path, i), depth + 1)
                        for i, item in enumerate(value)]
            return {key: self.render(item, join_path(path, str(key)), depth + 1)
                    for key, item in value.items()}
        return value

    def _interpolate(self, text: str, path: str) -> str:
        parts: list[str] = []
        total = position = 0
        for span in template_spans(text):
            parts.append(text[position:span[0]])
            expression = source(text, span)
            piece = self.evaluate(expression, path, text=True)
            parts.append(piece)
            total += span[0] - position + len(piece)
            if total > MAX_VALUE_SIZE:
                raise ExpressionError(f"{too_large('the interpolated text')} in "
                                      f"'{expression}'", expression, path)
            position = span[1]
        parts.append(text[position:])
        total += len(text) - position
        try:
            self.budget.build(total, "the interpolated text")
            self.budget.add_output(total)
        except ExpressionError as exc:
            raise ExpressionError(str(exc), "", path) from None
        return "".join(parts)

    def _as_text(self, value: Any) -> str:
        value = self._look(value)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return text_of(self.budget, value, "the interpolated text", json.dumps)
        return text_of(self.budget, value, "the interpolated text")

    # --- the walker -------------------------------------------------------------------
    def _eval(self, node: ast.AST) -> Any:
        budget = self.budget
        budget.work += NODE_STEPS
        if budget.work > MAX_WORK:
            budget.spend(0)
        handler = self.nodes.get(type(node))
        if handler is None:
            raise ExpressionError(f"{type(node).__name__} is not supported in expressions")
        return handler(node)

    # --- stored data (references) -------------------------------------------------------
    def _open(self, value: Any) -> Any:
        """A reference as something to read: NeedsData in the workflow, else its content
        (or a lazy view of it). Anything else is itself."""
        if type(value) is dict and len(value) == 3 and is_ref(value):
            if self.resolve is None:
                raise NeedsData()
            return self.resolve(value)
        return value

    def _look(self, value: Any) -> Any:
        """The value an operation works on: references and lazy views loaded. On the hot
        path of every operator: two type checks for plain values."""
        if type(value) is dict:
            if len(value) != 3 or not is_ref(value):
                return value
            value = self._open(value)
        if isinstance(value, LazyValue):
            return self._loaded(value)
        return value

    def _settled(self, value: Any) -> Any:
        """What goes into a built list or object: a lazy view of stored data is loaded (a
        whole reference stays a reference)."""
        return self._loaded(value) if isinstance(value, LazyValue) else value

    def _loaded(self, value: LazyValue) -> Any:
        self.budget.spend(value.cost)  # before reading: a read past the budget never starts
        loaded = value.value()
        self.budget.borrow(loaded)  # stored data, like the context: not built here
        return loaded

    def _eval_name(self, node: ast.Name) -> Any:
        name = node.id
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.names:
            value = self.names[name]
            self.budget.borrow(value)
            return value
        if name in self.calls:
            return self.calls[name]
        raise ExpressionError(f"unknown name {name!r}; use "
                              f"{', '.join(self.context_names) or 'none'}")

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            raise ExpressionError(f"'.{node.attr}' is not allowed: names starting with '_' "
                                  "are private")
        base = self._open(self._eval(node.value))
        if isinstance(base, LazyValue):
            return base.child(node.attr)
        if isinstance(base, Mapping):
            if node.attr in base:
                value = base[node.attr]
                if self.budget.is_borrowed(base):
                    self.budget.borrow(value)
                return value
            # Named from the first 100 text keys only: turning every key into text could
            # take seconds (20,000 keys of 4,300-digit numbers) past the work budget.
            names = (key for key in itertools.islice(base, 100) if isinstance(key, str))
            available = ", ".join(heapq.nsmallest(10, names)) or "none"
            raise ExpressionError(f"no field {node.attr!r} (available: {clip(available)})")
        raise ExpressionError(f"cannot read '.{node.attr}' of {kind(base)}")

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        container = self._open(self._eval(node.value))
        key = self._look(self._eval(node.slice))
        if isinstance(container, LazyValue):
            if type(key) in (str, int):
                return container.child(key)
            container = self._loaded(container)
        if type(key) is slice:
            if type(container) in (str, list, tuple):
                self.budget.build(len(range(*key.indices(len(container)))), "the slice")
            return container[key]
        if type(container) in (str, list, tuple) and type(key) is int \
                and not -len(container) <= key < len(container):
            raise ExpressionError(f"index {short(key)} is out of range for {kind(container)} "
                                  f"of {len(container)}")
        value = container[key]
        if self.budget.is_borrowed(container):
            self.budget.borrow(value)
        return value

    def _eval_call(self, node: ast.Call) -> Any:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in self.calls:
            known = ", ".join(sorted(FUNCTION_NAMES))
            if name is None:
                raise ExpressionError(f"only the built-in functions can be called ({known})")
            raise ExpressionError(f"unknown function {name!r}; available: {known}")
        args = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ExpressionError("'*' arguments are not supported")
            args.append(self._look(self._eval(arg)))
        options = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise ExpressionError("'**' arguments are not supported")
            options[keyword.arg] = self._look(self._eval(keyword.value))
        return self.calls[name](*args, **options)

    def _eval_binop(self, node: ast.BinOp) -> Any:
        function = self.operations.get(type(node.op))
        if function is None:
            raise ExpressionError(f"the operator {type(node.op).__name__} is not supported")
        return function(self._look(self._eval(node.left)), self._look(self._eval(node.right)))

    def _eval_boolop(self, node: ast.BoolOp) -> Any:
        """``and`` / ``or`` as Python's, on loaded values (a lazy view has no truth of its own)."""
        result: Any = isinstance(node.op, ast.And)
        for value in node.values:
            result = self._settled(self._eval(value))
            if bool(result) != isinstance(node.op, ast.And):
                break
        return result

    def _eval_ifexp(self, node: ast.IfExp) -> Any:
        return self._eval(node.body) if self._settled(self._eval(node.test)) \
            else self._eval(node.orelse)

    def _eval_unaryop(self, node: ast.UnaryOp) -> Any:
        return self.operations[type(node.op)](self._look(self._eval(node.operand)))

    def _eval_compare(self, node: ast.Compare) -> Any:
        left = self._look(self._eval(node.left))
        result: Any = True
        for operation, comparator in zip(node.ops, node.comparators, strict=True):
            right = self._look(self._eval(comparator))
            charge_comparison(self.budget, type(operation), left, right)
            result = COMPARISONS[type(operation)](left, right)
            if not result:
                return result
            left = right
        return result

    def _eval_list(self, node: ast.List | ast.Tuple) -> list[Any]:
        result: list[Any] = []
        for item in node.elts:
            if isinstance(item, ast.Starred):
                value = self._look(self._eval(item.value))
                if type(value) not in _DEEP:
                    raise ExpressionError(f"cannot unpack {kind(value)} with '*'")
                self.budget.check(len(result) + len(value), "the list")
                self.budget.build(len(value), "the list")
                result.extend(value)
            else:
                result.append(self._settled(self._eval(item)))
        return result

    def _eval_tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self._eval_list(node))

    def _eval_dict(self, node: ast.Dict) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                other = self._look(self._eval(value))
                if not isinstance(other, Mapping):
                    raise ExpressionError(f"cannot unpack {kind(other)} with '**'")
                self.budget.check(len(result) + len(other), "the object")
                self.budget.build(len(other), "the object")
                result.update(other)
            else:
                result[self._look(self._eval(key))] = self._settled(self._eval(value))
        return result

    def _eval_comprehension(self, node: Any) -> Any:
        result: Any = {} if isinstance(node, ast.DictComp) else []
        scope: dict[str, Any] = {}
        self.scopes.append(scope)
        try:
            self._generate(node, 0, scope, result)
        finally:
            self.scopes.pop()
        return result

    def _generate(self, node: Any, index: int, scope: dict[str, Any], result: Any) -> None:
        generator = node.generators[index]
        if generator.is_async:
            raise ExpressionError("async comprehensions are not supported")
        iterable = self._look(self._eval(generator.iter))
        if type(iterable) not in _DEEP:
            raise ExpressionError(f"cannot loop over {kind(iterable)}")
        borrowed = self.budget.is_borrowed(iterable)
        last = index + 1 == len(node.generators)
        for item in iterable:
            self.budget.spend(LOOP_STEPS)
            if borrowed:
                self.budget.borrow(item)
            self._bind(generator.target, item, scope)
            if all(self._look(self._eval(condition)) for condition in generator.ifs):
                if not last:
                    self._generate(node, index + 1, scope, result)
                elif isinstance(result, dict):
                    result[self._look(self._eval(node.key))] = \
                        self._settled(self._eval(node.value))
                else:
                    result.append(self._settled(self._eval(node.elt)))

    def _bind(self, target: ast.AST, value: Any, scope: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            scope[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            if type(value) not in _DEEP or len(value) != len(target.elts):
                raise ExpressionError(f"cannot unpack {kind(value)} into "
                                      f"{len(target.elts)} names")
            for part, item in zip(target.elts, value, strict=False):
                self._bind(part, item, scope)
        else:
            raise ExpressionError("a loop variable must be a name or a tuple of names")

    def _eval_joinedstr(self, node: ast.JoinedStr) -> str:
        parts: list[str] = []
        total = 0
        for part in node.values:
            text = part.value if isinstance(part, ast.Constant) else self._eval(part)
            total += len(text)
            self.budget.check(total, "the f-string")
            parts.append(text)
        self.budget.build(total, "the f-string")
        return "".join(parts)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> str:
        value = self._look(self._eval(node.value))
        what = "the f-string"
        if node.conversion in _CONVERSIONS:
            value = text_of(self.budget, value, what, _CONVERSIONS[node.conversion])
        spec = self._eval(node.format_spec) if node.format_spec else ""
        if not spec:
            return text_of(self.budget, value, what)
        if len(spec) > 64:
            raise ExpressionError(f"the format spec {short(spec)} is too long")
        widths = sum(int(number) for number in _DIGITS.findall(spec))
        estimate = 2 * self.budget.text_size(value, what) + widths + 400
        self.budget.build(estimate, what)
        return self.budget.settle(format(value, spec), estimate, what)
