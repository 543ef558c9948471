"""Pipeline files: schema, loading with line numbers, and static validation.

A pipeline is YAML written by a digital transformation lead (see ``docs/pipelines.md``).
:func:`load_pipeline` parses it into a :class:`Pipeline` and keeps the position of every
key, so that :func:`validate_pipeline` can report *every* problem at once as
``file:line:col: message`` with a hint — unknown keys ("did you mean"), unknown agents,
``needs`` naming no step, cycles, type mismatches between steps, parameters failing an
agent's spec schema, missing files and data sources lacking columns.

The code lives in private modules, one concept each; this module is the public face and
re-exports them: ``_pipeline_file`` (schema and loading), ``_yaml`` (YAML with positions),
``_planning`` (goal, slots and specs) and ``_validation`` (every problem at once).
"""

from __future__ import annotations

from conductor._pipeline_file import (
    Limits,
    LoadedPipeline,
    Pipeline,
    ReviewConfig,
    StepConfig,
    load_pipeline,
)
from conductor._planning import StepPlan, bind_slots, plan_pipeline, resolve_goal
from conductor._validation import ValidationReport, check_pipeline, validate_pipeline
from conductor._yaml import read_yaml, to_plain, yaml_position

__all__ = [
    "Limits",
    "LoadedPipeline",
    "Pipeline",
    "ReviewConfig",
    "StepConfig",
    "StepPlan",
    "ValidationReport",
    "bind_slots",
    "check_pipeline",
    "load_pipeline",
    "plan_pipeline",
    "read_yaml",
    "resolve_goal",
    "to_plain",
    "validate_pipeline",
    "yaml_position",
]
