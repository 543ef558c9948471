"""A Conductor pipeline as a LangGraph server graph: the factory ``langgraph.json`` names.

``langgraph dev`` (and LangGraph Studio, which talks to it) loads the graph id
``conductor`` from :func:`make_graph`. The factory checks and plans the pipeline file
that ``CONDUCTOR_PIPELINE`` names exactly as ``conductor run`` plans it without a model
(:func:`conductor.runtime.plan_offline`) and returns its compiled graph with no
checkpointer: the server keeps the checkpoints. Everything else is in
``docs/service-langgraph.md``.

Environment:
    ``CONDUCTOR_PIPELINE``: the pipeline file (default: ``pipelines/growth.yaml`` of the
        checkout this module is in); a relative path is read from the server's folder.
    ``CONDUCTOR_HOME``: the steps write their files under
        ``$CONDUCTOR_HOME/langgraph/<thread id>/`` (default ``./.conductor``).

The server calls the factory for every request that needs the graph (each run, each
state read), so the plan is kept per pipeline file and made again only when the file,
its brand, channel or data files change (their size or modification time).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conductor.errors import RunError
from conductor.runtime import PlannedPipeline, hosted_graph, plan_offline
from conductor.store import conductor_home

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["DEFAULT_PIPELINE", "make_graph", "pipeline_file"]

DEFAULT_PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "growth.yaml"
"""The demo's pipeline in a checkout: what ``langgraph dev`` opens unless told otherwise."""

_Stamp = tuple[tuple[str, int, int] | None, ...]

_plans: dict[Path, tuple[_Stamp, PlannedPipeline]] = {}
_plans_lock = threading.Lock()


def pipeline_file(env: dict[str, str] | None = None) -> Path:
    """The pipeline file the factory opens: ``CONDUCTOR_PIPELINE``, else the demo's.

    Raises:
        RunError: ``run.no-pipeline`` when the file does not exist.
    """
    source = os.environ if env is None else env
    raw = source.get("CONDUCTOR_PIPELINE", "").strip()
    path = Path(raw).expanduser().resolve() if raw else DEFAULT_PIPELINE
    if not path.is_file():
        raise RunError(
            f"no pipeline file at {path}",
            code="run.no-pipeline",
            hint="set CONDUCTOR_PIPELINE to a pipeline file before `langgraph dev` "
            "(the default, pipelines/growth.yaml, is in a checkout of the repository)",
        )
    return path


def make_graph(config: RunnableConfig | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled graph of the pipeline ``CONDUCTOR_PIPELINE`` names, for the server.

    Compiled without a checkpointer (the server brings its own). A run started with an
    empty input (``{}``, Studio's default) begins from the planned input: the goal and
    every step's spec, filled by the graph's first node, ``conductor.plan``; a run given
    the input (:meth:`conductor.runtime.PlannedPipeline.initial_state`) keeps it.

    Args:
        config: The server's config for the request; its ``configurable.thread_id``
            becomes the run id the agents see and names the folder they write in.

    Raises:
        PipelineError: The pipeline file has problems (``conductor validate`` lists
            them the same way).
        RunError: The pipeline file does not exist.
    """
    path = pipeline_file()
    planned = _planned(path)
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    run_id = str(thread) if thread else f"{planned.pipeline.name}-langgraph"
    out_dir = conductor_home() / "langgraph" / _folder_name(run_id)
    graph = hosted_graph(planned, run_id=run_id, out_dir=out_dir)
    return graph.compile(name=planned.pipeline.name)


def _planned(path: Path) -> PlannedPipeline:
    with _plans_lock:
        kept = _plans.get(path)
        if kept is not None and kept[0] == _stamp(kept[1]):
            return kept[1]
        planned = plan_offline(path)
        _plans[path] = (_stamp(planned), planned)
        return planned


def _stamp(planned: PlannedPipeline) -> _Stamp:
    """Size and modification time of every file the plan was made from."""
    p = planned.pipeline
    files = [p.source]
    files += [p.resolve(src.path) for src in p.data.values() if src.path is not None]
    if p.brand is not None:
        files.append(p.resolve(p.brand))
    if isinstance(p.channels, Path):
        files.append(p.resolve(p.channels))
    stamps: list[tuple[str, int, int] | None] = []
    for f in files:
        try:
            st = Path(f).stat()
        except OSError:  # a glob or a missing file: planning again tells what is wrong
            stamps.append(None)
        else:
            stamps.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(stamps)


def _folder_name(run_id: str) -> str:
    # A thread id is whatever the server's client sent: keep it inside langgraph/.
    return re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:100] or "thread"
