"""How each method quantizes and trains, one module per paper, and the registry the runner dispatches on.

A method module lists its methods in ``METHODS`` (training) or ``PTQ_METHODS`` (post-training); every module of
this package is searched for them, so a new method is one new module.
"""
import importlib
import pkgutil

from .base import Method, PTQMethod


def _discover(attribute: str) -> dict:
    found = {}
    for module in pkgutil.iter_modules(__path__):
        for method in getattr(importlib.import_module(f"{__name__}.{module.name}"), attribute, ()):
            found[method.name] = method
    return found


METHODS: dict[str, Method] = {"fp": Method(), **_discover("METHODS")}
PTQ_METHODS: dict[str, PTQMethod] = _discover("PTQ_METHODS")


def get_method(name: str) -> Method | PTQMethod:
    """The registered training or post-training method called ``name``."""
    found = METHODS.get(name) or PTQ_METHODS.get(name)
    if found is None:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join([*METHODS, *PTQ_METHODS])}")
    return found


__all__ = ["METHODS", "PTQ_METHODS", "Method", "PTQMethod", "get_method"]
