"""Which code a checkpoint may name: the trusted classes and functions.

A checkpoint names classes and functions (the estimator class, the query
strategy, a network class given as a parameter) by module and qualified name.
Loading imports one only when it is trusted:

- every public name of al_adapters (the strategies, the adapters);
- torch's loss modules and optimizers (``torch.nn`` losses, ``torch.optim``);
- what the caller lists in ``trusted=``: the objects themselves, or their
  dotted names (``"my_package.models.Net"``), as ``skops.io.load`` takes them.

Anything else is refused before its module is imported, so that no code runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

from al_adapters._checkpoint_file import UntrustedCheckpointError
from al_adapters._checkpoint_values import dotted, import_refs

_PUBLIC_MODULES = (
    "al_adapters",
    "al_adapters.acquisition",
    "al_adapters.batch",
    "al_adapters.bayesian",
    "al_adapters.combination",
    "al_adapters.density",
    "al_adapters.disagreement",
    "al_adapters.diversity",
    "al_adapters.dropout",
    "al_adapters.expected_error",
    "al_adapters.multilabel",
    "al_adapters.selection",
    "al_adapters.uncertainty",
)
_ADAPTERS = {
    "al_adapters.adapters.torch.TorchAdapter",
    "al_adapters.adapters.keras.KerasAdapter",
    "al_adapters.adapters.lightning.LightningAdapter",
    "al_adapters.adapters.hf.HFAdapter",
}
# module prefix -> (module of the base class, its name): a class of a module
# under the prefix is trusted when it is a subclass of that base
_FRAMEWORK_CLASSES = {
    "torch.optim.": ("torch.optim", "Optimizer"),
    "torch.nn.modules.loss": ("torch.nn.modules.loss", "_Loss"),
}


def trusted_names(trusted: Iterable[Any] | None) -> set[str]:
    """Return the dotted names of ``trusted`` (objects or dotted names)."""
    if trusted is None:
        return set()
    if isinstance(trusted, str):
        raise TypeError(
            "trusted must be a list of classes, functions or dotted names, got "
            f"the string {trusted!r}: write [{trusted!r}]"
        )
    names = set()
    for item in trusted:
        if isinstance(item, str):
            names.add(item.replace(":", "."))
        else:
            module = getattr(item, "__module__", None)
            qualname = getattr(item, "__qualname__", None)
            if not module or not qualname:
                raise TypeError(
                    f"trusted holds {item!r}: give classes, functions or dotted names"
                )
            names.add(f"{module}.{qualname}")
    return names


def _default_names():
    names = set(_ADAPTERS)
    for module_name in _PUBLIC_MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name in getattr(module, "__all__", ()):
            obj = vars(module).get(name)
            path = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
            if all(path) and callable(obj):
                names.add(f"{path[0]}.{path[1]}")
    return names


def _is_framework_class(ref):
    """Tell whether ``ref`` names a torch optimizer or loss class."""
    for prefix, (base_module, base_name) in _FRAMEWORK_CLASSES.items():
        if ref["module"].startswith(prefix) or ref["module"] == prefix.rstrip("."):
            if "torch" not in sys.modules:
                return False
            base = getattr(importlib.import_module(base_module), base_name)
            obj = _lookup(ref)
            return isinstance(obj, type) and issubclass(obj, base)
    return False


def untrusted(tree: Any, trusted: set[str]) -> list[str]:
    """Return the dotted names in ``tree`` that are not trusted, sorted."""
    allowed = trusted | _default_names()
    refused = set()
    for ref in import_refs(tree):
        name = dotted(ref)
        if name not in allowed and not _is_framework_class(ref):
            refused.add(name)
    return sorted(refused)


def check_trusted(tree: Any, trusted: set[str], what: str) -> None:
    """Raise if ``tree`` names code that is not trusted; import nothing then."""
    refused = untrusted(tree, trusted)
    if refused:
        raise UntrustedCheckpointError(
            f"{what} names {', '.join(refused)}, which "
            f"{'is' if len(refused) == 1 else 'are'} not trusted; nothing was "
            f"imported. If you trust this checkpoint, pass trusted={refused!r} "
            "(or the objects themselves), or pass the object to load into"
        )


def resolver(trusted: set[str]):
    """Return ``resolve(tag)`` for :func:`~._checkpoint_values.decode`."""

    def resolve(ref):
        check_trusted(ref, trusted, "the checkpoint")
        obj = _lookup(ref)
        if obj is None:
            raise UntrustedCheckpointError(
                f"{dotted(ref)} names nothing that can be imported"
            )
        return obj

    return resolve


def _lookup(ref):
    module = sys.modules.get(ref["module"])
    if module is None:
        try:
            module = importlib.import_module(ref["module"])
        except ImportError:
            return None
    obj = module
    for part in ref["qualname"].split("."):
        obj = getattr(obj, part, None)
    return obj
