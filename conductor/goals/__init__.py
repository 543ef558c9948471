"""Business goals: the typed goal, and reading it from plain words or structured fields.

A goal is written in a pipeline either as free text (read by :func:`parse_goal`, a
deterministic grammar with no LLM) or as structured fields (:func:`goal_from_mapping`).
Every parsed field remembers the span of text it came from and every default the
parser chose is listed, so nothing is silent. :func:`parse_goal_with_llm` is the
optional model-assisted reading, checked against the grammar's.

Inside, importing one way: ``_model`` (the typed goal) <- ``_lexicon``, ``_text``
(words and the text being read) <- ``_channels`` (channel names in data), ``_dates``,
``_quantities``, ``_unused`` (goal words no value was read from) <- ``_target``,
``_budget`` <- ``_parser`` (the grammar) <- ``_fields`` (structured values), ``_parse``
(the API) <- ``_llm`` (model-assisted); ``_describe`` explains a goal for people.
"""

from typing import TYPE_CHECKING, Any

from conductor.goals._channels import (
    canonical_channel,
    channel_name,
    check_taxonomy,
    normalise_channel_key,
)
from conductor.goals._describe import describe_constraint, describe_goal
from conductor.goals._model import (
    GOAL_VALUE_FIELDS,
    BusinessGoal,
    Channel,
    Constraint,
    Horizon,
    Kpi,
    Money,
    Objective,
    Span,
    Target,
)
from conductor.goals._parse import goal_from_mapping, parse_goal, parse_goal_partial

if TYPE_CHECKING:
    from conductor.goals._llm import parse_goal_with_llm

__all__ = [
    "GOAL_VALUE_FIELDS",
    "BusinessGoal",
    "Channel",
    "Constraint",
    "Horizon",
    "Kpi",
    "Money",
    "Objective",
    "Span",
    "Target",
    "canonical_channel",
    "channel_name",
    "check_taxonomy",
    "describe_constraint",
    "describe_goal",
    "goal_from_mapping",
    "normalise_channel_key",
    "parse_goal",
    "parse_goal_partial",
    "parse_goal_with_llm",
]


def __getattr__(name: str) -> Any:
    # The model-assisted parse needs the LLM stack (LangChain, openai): load it on first
    # use so that reading a goal with the grammar stays light.
    if name == "parse_goal_with_llm":
        from conductor.goals._llm import parse_goal_with_llm

        return parse_goal_with_llm
    raise AttributeError(f"module 'conductor.goals' has no attribute {name!r}")
