"""The conductor as a shared service.

``langgraph_app`` is the factory a LangGraph server (``langgraph dev``, Studio) opens a
pipeline's graph from; ``langgraph.json`` names it by file. Each name loads its module on
first use: importing the package loads neither LangGraph nor the runtime.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conductor.service.langgraph_app import make_graph

_LAZY: dict[str, str] = {"make_graph": "langgraph_app"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conductor.service' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"conductor.service.{module}"), name)
    globals()[name] = value
    return value


__all__ = ["make_graph"]
