"""Chapter parameters as papermill and the CLI pass them: scalars and strings, checked in one place.

papermill passes tuples as strings, so list-valued parameters are comma-separated strings
("4,3,2") or a single scalar (2); ``parse_list`` turns either into a list.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def parse_list(value: Any, kind: Callable[[Any], T], name: str, choices: Sequence[T] | None = None) -> list[T]:
    """A list from a scalar, a comma-separated string or a list, each item converted by ``kind``."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    result = []
    for item in items:
        text = str(item).strip()
        try:
            converted = kind(text)
        except ValueError:
            raise ValueError(f"parameter {name}={value!r}: {text!r} is not a {kind.__name__}"
                             f"{'; valid: ' + ', '.join(map(str, choices)) if choices else ''}") from None
        if choices is not None and converted not in choices:
            raise ValueError(f"parameter {name}={value!r}: {converted!r} is not supported; valid: "
                             f"{', '.join(map(str, choices))}")
        result.append(converted)
    if not result or (len(result) == 1 and str(items[0]).strip() == ""):
        raise ValueError(f"parameter {name} is empty")
    return result


def expect(name: str, value: Any, kind: type, minimum: float | None = None,
           choices: Sequence[Any] | None = None) -> Any:
    """Check a scalar parameter's type (bool is not an int), range and choices; return it."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"parameter {name} must be a {kind.__name__}, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"parameter {name} must be >= {minimum}, got {value!r}")
    if choices is not None and value not in choices:
        raise ValueError(f"parameter {name}={value!r} is not supported; valid: {', '.join(map(str, choices))}")
    return value


def infer_scalar(text: str) -> int | float | bool | str:
    """The value a command-line string stands for, as papermill's ``-p`` infers it."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
