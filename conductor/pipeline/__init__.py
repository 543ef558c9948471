"""Pipeline files: schema, loading with line numbers, and static validation.

A pipeline is YAML written by a digital transformation lead (see ``docs/pipelines.md``).
:func:`load_pipeline` parses it into a :class:`Pipeline` and keeps the position of every
key, so that :func:`validate_pipeline` can report *every* problem at once as
``file:line:col: message`` with a hint — unknown keys ("did you mean"), unknown agents,
``needs`` naming no step, cycles, type mismatches between steps, parameters failing an
agent's spec schema, missing files and data sources lacking columns.

The code lives in private modules, one concept each, importing one way: ``_file``
(schema and loading, on the shared YAML reader ``conductor._yaml``) <- ``_planning``
(goal, slots and specs) <- ``_validation`` (every problem at once) and ``_assist``
(model-assisted spec fields at plan time), and ``_saved`` (plans saved to a file and run
exactly, refused when what they were made from changed).
"""

from __future__ import annotations

from conductor._yaml import read_yaml, to_plain, yaml_position
from conductor.pipeline._assist import assist_plans
from conductor.pipeline._file import (
    Limits,
    LoadedPipeline,
    Pipeline,
    ReviewConfig,
    StepConfig,
    load_pipeline,
)
from conductor.pipeline._planning import StepPlan, bind_slots, plan_pipeline, resolve_goal
from conductor.pipeline._saved import (
    SavedPlan,
    apply_saved_plan,
    read_plan,
    save_plan,
    write_plan,
)
from conductor.pipeline._validation import ValidationReport, check_pipeline, validate_pipeline
from conductor.pipeline._views import plan_document, step_mermaid

__all__ = [
    "Limits",
    "LoadedPipeline",
    "Pipeline",
    "ReviewConfig",
    "SavedPlan",
    "StepConfig",
    "StepPlan",
    "ValidationReport",
    "apply_saved_plan",
    "assist_plans",
    "bind_slots",
    "check_pipeline",
    "load_pipeline",
    "plan_document",
    "plan_pipeline",
    "read_plan",
    "read_yaml",
    "resolve_goal",
    "save_plan",
    "step_mermaid",
    "to_plain",
    "validate_pipeline",
    "write_plan",
    "yaml_position",
]
