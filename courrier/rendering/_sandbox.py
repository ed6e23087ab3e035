"""The bounded sandbox: a letter's rendering stops within bounds of size, steps, time and recursion.

A template comes from an agency library as well as from courrier: it may loop, recurse or build a
huge value, by mistake or on purpose. Every bound here is checked cooperatively, from the thread that
renders (no signal, so a service may render from several threads):

- size: every value a template computes is bounded before it is built where its size depends on a
  number or on repeated references (a width, a count, a repetition, a join), and checked once built
  (a filter's, a call's or an operator's result), so that the next operation starts from a bounded
  value and size-proportional operations (escaping, JSON…) only grow it by their constant factor;
- steps and time: each loop step, call, filter and include counts as a step of the letter's
  rendering, which stops past `MAX_RENDER_STEPS` steps or `MAX_RENDER_SECONDS` seconds;
- recursion: Python's own limit, whose `RecursionError` the library turns into a `TemplateDefect`;
  the library also refuses include cycles before rendering.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
import time
from collections.abc import (
    Callable,
    Collection,
    ItemsView,
    Iterator,
    KeysView,
    Mapping,
    ValuesView,
)
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from itertools import islice
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, _PassArg

from ..french import FILTERS

__all__ = [
    "MAX_LETTER_CHARS",
    "MAX_RENDER_SECONDS",
    "MAX_RENDER_STEPS",
    "Refused",
    "Sandbox",
    "SizeBoundExceeded",
    "bounded_rendering",
]

MAX_LETTER_CHARS = 100_000
"""Upper bound on the text of one letter, and on any value a template computes; past it, rendering
stops with `RenderLimitExceeded`."""

MAX_RENDER_STEPS = 1_000_000
"""Upper bound on the steps (loop steps, calls, filters, includes) of one letter's rendering: a
letter takes a few hundred; a runaway loop stops here whatever the machine's speed."""

MAX_RENDER_SECONDS = 3.0
"""Upper bound on the time one letter's rendering takes, for the steps that are slow one by one."""

MAX_RANGE = 100_000
"""The most items `range()` gives in a template (as Jinja2's own sandbox)."""

_MAX_INT_BITS = 10_000
"""The largest integer a template computes (about 3,000 digits)."""

_MAX_DECIMAL_EXPONENT = 1_000
"""The largest power of ten of a decimal a template computes."""

_FLOAT_DIGITS = 320
"""The most characters a float may print as in full (`%f` of 1e308)."""

_PRINTF = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?(?P<kind>.)",
    re.DOTALL,
)
"""A conversion specifier of printf-style formatting, as Python reads it."""


class SizeBoundExceeded(SecurityError):
    """A template value would be larger than a letter may be."""


class Refused(SecurityError):
    """A template does what the sandbox does not allow; the message says what, in French."""


@dataclass
class _Budget:
    """What is left to one letter's rendering."""

    deadline: float
    steps: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("courrier_render_budget", default=None)
"""The budget of the rendering in progress in this thread (or task); none outside `bounded_rendering`."""


class bounded_rendering:  # noqa: N801 (used as a function: `with bounded_rendering():`)
    """Count the steps and the time of the rendering done inside, against the bounds of one letter."""

    def __enter__(self) -> None:
        self._token = _BUDGET.set(_Budget(deadline=time.monotonic() + MAX_RENDER_SECONDS))

    def __exit__(self, *_exception: object) -> None:
        _BUDGET.reset(self._token)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.steps += 1
    if budget.steps > MAX_RENDER_STEPS:
        raise Refused(f"rendu interrompu après {MAX_RENDER_STEPS} étapes (boucle sans fin ?)")
    if time.monotonic() > budget.deadline:
        raise Refused(f"rendu interrompu après {MAX_RENDER_SECONDS:g} s (boucle sans fin ?)")


def _size(value: object, limit: int = MAX_LETTER_CHARS) -> int:
    """How many characters printing `value` may take, up to a small factor, without printing it.

    A container counts each item as often as it holds it (a list of a thousand references to one
    long text counts as that text printed a thousand times), a number its digits; counting stops
    once past `limit`, so that this costs at most about `limit` steps.
    """
    total = 0
    pending: list[object] = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bytes):
            total += 4 * len(item)  # as its repr may print it
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, Decimal):
            total += (abs(item.adjusted()) if item.is_finite() else 0) + 32
        elif isinstance(item, Namespace):
            # A namespace prints as its attributes: count them (Jinja2 keeps them in this slot).
            pending.append(object.__getattribute__(item, "_Namespace__attrs"))
        elif isinstance(item, Mapping):
            total += 4 * len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | KeysView | ValuesView | ItemsView):
            total += 2 * len(item)
            if total <= limit:
                pending.extend(item)
        else:
            total += 64  # dates, floats, ranges, macros, undefined values: short when printed
    return total


_SHORT_TYPES = frozenset({dt.date, dt.datetime, float, bool, type(None)})
"""Types whose values always print short: no need to count them."""


def _check(value: object) -> None:
    """Refuse a computed value larger than a letter may be."""
    if isinstance(value, str):  # what templates compute most: skip the general count
        if len(value) > MAX_LETTER_CHARS:
            raise SizeBoundExceeded("valeur trop grande")
    elif type(value) not in _SHORT_TYPES and _size(value) > MAX_LETTER_CHARS:
        raise SizeBoundExceeded("valeur trop grande")


def _int(value: object) -> int:
    return abs(value) if isinstance(value, int) else 0


def _count(value: object, sub: object, size: int) -> int:
    """How many times `sub` may occur in `value` (at most one more than the size when empty)."""
    if (isinstance(value, str) and isinstance(sub, str) and sub) or (
        isinstance(value, bytes) and isinstance(sub, bytes) and sub
    ):
        return value.count(sub)  # type: ignore[arg-type]
    return size + 1


def _replace_size(value: object, old: object, new: object, count: object) -> int:
    size = _size(value)
    grows = _size(new) - (len(old) if isinstance(old, str) else 0)
    if grows <= 0:
        return size
    occurrences = _count(value, old, size)
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return size + occurrences * grows


def _join_size(items: Collection[object], separator: object) -> int:
    return _size(items) + len(items) * _size(separator)


def _indent_size(text: object, width: object) -> int:
    pad = len(width) if isinstance(width, str) else _int(width)
    size = _size(text)
    return size + (_count(text, "\n", size) + 1) * pad


def _wrap_size(text: object, width: object, wrapstring: object) -> int:
    # A line and the next one hold more than `width` characters together, hence the 2.
    size = _size(text)
    lines = 2 * size // max(_int(width), 1) + _count(text, "\n", size) + 2
    return size + lines * _size("\n" if wrapstring is None else wrapstring)


def _printf_size(template: object, values: object) -> int:
    """An upper bound of `template % values`: the template, then each conversion's width, precision
    and value."""
    if not isinstance(template, str):
        return _size(template)
    positional = list(values) if isinstance(values, tuple) else [values]
    size = len(template)
    index = 0
    for conversion in _PRINTF.finditer(template):
        if conversion["kind"] == "%":
            continue
        for part in (conversion["width"], conversion["precision"]):
            if part == "*":
                size += _int(positional[index]) if index < len(positional) else 0
                index += 1
            elif part:
                size += int(part) if len(part) < 10 else MAX_LETTER_CHARS + 1
        key = conversion["key"]
        if key is not None and isinstance(values, Mapping):
            size += _size(values.get(key)) + _FLOAT_DIGITS
        else:
            size += (_size(positional[index]) if index < len(positional) else 0) + _FLOAT_DIGITS
            index += 1
        if size > MAX_LETTER_CHARS:
            break
    return size


def _refuse_sum(start: object) -> int:
    # Summing lists or texts copies them again at each item (quadratic): letters sum numbers.
    if not isinstance(start, int | float | Decimal):
        raise Refused("le filtre sum n'additionne que des nombres")
    return 0


_FILTER_SIZES: dict[str, Callable[[dict[str, Any]], int]] = {
    "center": lambda a: max(_size(a["value"]), _int(a["width"])),
    "indent": lambda a: _indent_size(a["s"], a["width"]),
    "wordwrap": lambda a: _wrap_size(a["s"], a["width"], a["wrapstring"]),
    "format": lambda a: _printf_size(a["value"], a["kwargs"] or tuple(a["args"])),
    "join": lambda a: _join_size(a["value"], a["d"]),
    "replace": lambda a: _replace_size(a["s"], a["old"], a["new"], a["count"]),
    "batch": lambda a: _size(a["value"]) + 2 * _int(a["linecount"]),
    "slice": lambda a: _size(a["value"]) + 2 * _int(a["slices"]),
    "sum": lambda a: _refuse_sum(a["start"]),
}
"""Upper bounds of the filters whose result may be far larger than their input, from their arguments."""

_MATERIALIZED = {"join": "value"}
"""Filter arguments read twice (to bound, then to run): an iterator there is made a list first."""


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, counted as a step, with its input, its arguments and its result bounded."""
    passed = 1 if _PassArg.from_obj(function) is not None else 0  # Jinja2's context or environment
    estimate = _FILTER_SIZES.get(name)
    signature = inspect.signature(function) if estimate is not None else None

    @wraps(function)  # keeps Jinja2's mark of what to pass first
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if len(args) > passed:
            _check(args[passed])  # a filter prints its input first: a container can be huge printed
        if estimate is not None and signature is not None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            materialized = _MATERIALIZED.get(name)
            if materialized and not isinstance(bound.arguments[materialized], Collection):
                bound.arguments[materialized] = list(
                    islice(bound.arguments[materialized], MAX_LETTER_CHARS + 1)
                )
            if estimate(bound.arguments) > MAX_LETTER_CHARS:
                raise SizeBoundExceeded(f"filtre {name} : résultat trop grand")
            args, kwargs = bound.args, bound.kwargs
        try:
            result = function(*args, **kwargs)
        except AssertionError as error:  # how Jinja2's truncate checks its arguments
            raise Refused(f"filtre {name} : arguments refusés ({error})") from error
        _check(result)
        return result

    return bounded


_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _method_arguments(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Bound a text method call before it runs; return its arguments (an iterator to join as a list)."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str | bytes):
        length = args[0] if args else kwargs.get("length", 1)
        if (
            isinstance(owner, int)
            and getattr(method, "__name__", "") == "to_bytes"
            and _int(length) > MAX_LETTER_CHARS
        ):
            raise SizeBoundExceeded("to_bytes : résultat trop grand")
        return args
    name = getattr(method, "__name__", "")
    if name in _WIDTH_METHODS:
        size = max(len(owner), _int(args[0]) if args else 0)
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        tab = "\t" if isinstance(owner, str) else b"\t"
        size = len(owner) + _count(owner, tab, len(owner)) * _int(tabsize)
    elif name == "replace":
        old, new = (*args, None, None)[:2]
        size = _replace_size(owner, old, new, args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and args:
        items = args[0] if isinstance(args[0], Collection) else list(islice(args[0], MAX_LETTER_CHARS + 1))
        args = (items, *args[1:])
        size = _join_size(items, owner)
    elif name == "translate":
        raise Refused("la méthode translate est interdite dans un modèle")
    else:
        return args
    if size > MAX_LETTER_CHARS:
        raise SizeBoundExceeded(f"{name} : résultat trop grand")
    return args


def _bounded_range(*args: int) -> range:
    """`range`, refused past `MAX_RANGE` items (a French message, where Jinja2's is English)."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise Refused(f"range() donne au plus {MAX_RANGE} éléments")
    return numbers


def _refuse_str_format(*_args: Any, **_kwargs: Any) -> str:
    raise Refused("la méthode format des textes est interdite dans un modèle : utiliser le filtre format")


def _ticking(iterable: Any) -> Iterator[Any]:
    """The items of a `for` loop, each one a step of the rendering."""
    for item in iterable:
        _tick()
        yield item


class _CodeGenerator(CodeGenerator):
    """Jinja2's code, where each loop step counts and each `~` concatenation is bounded."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:  # noqa: N802 (Jinja2's name)
        # The loop runs over `environment.ticking(iterable)` (Jinja2 allows no node type of our own).
        ticking = nodes.Call(
            nodes.EnvironmentAttribute("ticking", lineno=node.lineno),
            [node.iter],
            [],
            None,
            None,
            lineno=node.lineno,
        )
        loop = nodes.For(
            node.target, ticking, node.body, node.else_, node.test, node.recursive, lineno=node.lineno
        )
        super().visit_For(loop, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 (Jinja2's name)
        # Jinja2 joins with str_join, or markup_join under autoescape: keep its choice, bound the result.
        self.write("environment.bounded_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class _TickingTemplate(JinjaTemplate):
    """A compiled template whose every include or import counts as a step."""

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> Context:
        _tick()
        return super().new_context(vars, shared, locals)


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, bounded (see the module's docstring)."""

    code_generator_class = _CodeGenerator
    template_class = _TickingTemplate
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, loader: BaseLoader, finalize: Callable[[Any], Any]) -> None:
        super().__init__(
            finalize=self._bounded_finalize,
            loader=loader,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
            auto_reload=False,
        )
        self._finalize = finalize
        del self.globals["lipsum"]  # paragraphs of lorem ipsum, as many as asked: no use in a letter
        self.globals["range"] = _bounded_range
        self.filters.update(FILTERS)
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}

    def _bounded_finalize(self, value: Any) -> Any:
        _check(value)
        return self._finalize(value)

    @staticmethod
    def ticking(iterable: Any) -> Iterator[Any]:
        return _ticking(iterable)

    @staticmethod
    def bounded_concat(text: str) -> str:
        _check(text)
        return text

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        args = _method_arguments(obj, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        _check(result)
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                repeated = isinstance(sequence, str | list | tuple) and isinstance(count, int)
                if repeated and _size(sequence) * count > MAX_LETTER_CHARS:
                    raise SizeBoundExceeded("répétition trop grande")
            both_int = isinstance(left, int) and isinstance(right, int)
            if both_int and left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                raise SizeBoundExceeded("nombre trop grand")
        if operator == "**" and isinstance(right, int):
            if abs(right) > 64:
                raise SizeBoundExceeded("exposant trop grand")
            if isinstance(left, int) and left.bit_length() * abs(right) > _MAX_INT_BITS:
                raise SizeBoundExceeded("nombre trop grand")
        if operator == "%" and isinstance(left, str) and _printf_size(left, right) > MAX_LETTER_CHARS:
            raise SizeBoundExceeded("mise en forme trop grande")
        result = super().call_binop(context, operator, left, right)
        if (
            isinstance(result, Decimal)
            and result.is_finite()
            and abs(result.adjusted()) > _MAX_DECIMAL_EXPONENT
        ):
            raise SizeBoundExceeded("nombre trop grand")
        _check(result)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # str.format and format_map can pad a field to any width: templates use the format filter.
        return _refuse_str_format if super().wrap_str_format(value) is not None else None
