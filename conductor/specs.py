"""Typed task specs, agent outputs and the artifacts brand rules inspect.

Artifacts are where agents and brand rules meet: an agent says what it produced as
``Copy``, ``Allocation``, ``Audience`` and ``Insight`` objects, and the brand's rules
target artifact kinds, so a new agent is checked by the existing rules the day it is
written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AgentOutput",
    "Allocation",
    "Artifact",
    "Audience",
    "Copy",
    "Insight",
    "TaskSpec",
    "assisted_fields",
    "model_assisted",
    "spec_hash",
]


class TaskSpec(BaseModel):
    """Base of every agent's task spec: frozen, unknown fields rejected.

    Subclass it with documented fields (``Field(description=...)``); the description is
    what ``conductor agents NAME`` shows and what the JSON schema carries.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


def spec_hash(spec: BaseModel) -> str:
    """A stable SHA-256 of a spec's canonical JSON (sorted keys), recorded in the audit log."""
    payload = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


class _Artifact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(
        default="",
        description="Identifier unique within the step's output (e.g. 'email/lapsed/winback').",
    )


class Copy(_Artifact):
    """A piece of customer-facing text: an email, SMS, push message, ad headline..."""

    kind: Literal["copy"] = "copy"
    channel: str = Field(description="Channel it will be sent on (email, sms, push, social, ...).")
    text: str = Field(description="The text exactly as the customer would see it.")
    segment: str | None = Field(default=None, description="Segment the copy is written for.")
    subject: str | None = Field(default=None, description="Subject line, for email.")


class Allocation(_Artifact):
    """Money assigned to channels, e.g. a recommended media budget."""

    kind: Literal["allocation"] = "allocation"
    amounts: dict[str, float] = Field(description="Channel -> amount, in `currency`.")
    currency: str = Field(default="USD", description="ISO 4217 currency code.")
    previous: dict[str, float] | None = Field(
        default=None, description="Channel -> amount in the previous period, when known."
    )
    period: str | None = Field(default=None, description="Period the money is for, e.g. 2027-Q3.")

    @property
    def total(self) -> float:
        """Sum of all amounts."""
        return float(sum(self.amounts.values()))


class Audience(_Artifact):
    """A group of people that will be targeted."""

    kind: Literal["audience"] = "audience"
    definition: str = Field(description="Who is in it, in words (e.g. 'lapsed, high value').")
    size: int = Field(ge=0, description="Number of people in it.")
    attributes_used: list[str] = Field(
        default_factory=list, description="Customer attributes used to select or target them."
    )
    consent_checked: bool = Field(
        default=False, description="True when everyone in it has marketing consent."
    )
    min_age: int | None = Field(default=None, description="Minimum age enforced, if any.")
    contacts_per_week: float | None = Field(
        default=None, description="Planned messages per person per week, if known."
    )
    fairness_gap: float | None = Field(
        default=None,
        description="Largest gap in action rate between protected groups (0..1), if measured.",
    )


class Insight(_Artifact):
    """A finding stated in words, with the numbers that support it."""

    kind: Literal["insight"] = "insight"
    statement: str = Field(description="The finding, in one sentence.")
    evidence: dict[str, float | int | str] = Field(
        default_factory=dict, description="The numbers the statement cites, by name."
    )


Artifact = Annotated[Copy | Allocation | Audience | Insight, Field(discriminator="kind")]
"""Any artifact; ``kind`` tells which."""


class AgentOutput(BaseModel):
    """Base of every agent's typed output.

    Subclasses add their own fields and override :meth:`artifacts` to expose what
    brand rules should inspect. Outputs must be JSON-serialisable (they are
    checkpointed); large tables belong in files in the run folder, referenced by path.
    """

    model_config = ConfigDict(extra="forbid")

    warnings: list[str] = Field(
        default_factory=list, description="Things the user should know about this result."
    )

    def artifacts(self) -> Iterable[Copy | Allocation | Audience | Insight]:
        """What this output shows the world; checked by the brand rules. Default: none."""
        return ()

    def summary(self) -> str:
        """One or two lines for the console and the Markdown summary."""
        arts = list(self.artifacts())
        return f"{type(self).__name__} with {len(arts)} artifact(s)"

    def replace_artifact(self, artifact: Copy | Allocation | Audience | Insight) -> AgentOutput:
        """Return a copy with the artifact of the same ``id`` replaced (used by ``edit``).

        The default handles outputs that keep artifacts in list fields of artifact
        objects; override it for other layouts.
        """
        data: dict[str, Any] = {}
        replaced = False
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, list) and any(
                isinstance(v, Copy | Allocation | Audience | Insight) for v in value
            ):
                new = []
                for v in value:
                    if isinstance(v, type(artifact)) and v.id == artifact.id:
                        new.append(artifact)
                        replaced = True
                    else:
                        new.append(v)
                data[name] = new
            elif (
                isinstance(value, type(artifact))
                and isinstance(value, Copy | Allocation | Audience | Insight)
                and value.id == artifact.id
            ):
                data[name] = artifact
                replaced = True
        if not replaced:
            raise KeyError(artifact.id)
        return self.model_copy(update=data)


_ASSISTED = "model_assisted"


def model_assisted(default: Any = ..., **kw: Any) -> Any:
    """A pydantic ``Field`` whose default a configured language model may replace.

    Use it like ``Field``: ``tone: str = model_assisted("warm", description="...")``.
    When a run has a model and nothing else set the field (no ``with:`` value, nothing
    derived from the goal, brand or upstream), the model proposes a value from the goal;
    ``conductor plan`` and ``result.json`` then show ``model`` as its provenance. The
    description is what the model is told the field means, so write one.
    """
    extra = dict(kw.pop("json_schema_extra", None) or {})
    extra[_ASSISTED] = True
    return Field(default, json_schema_extra=extra, **kw)


def assisted_fields(spec_type: type[TaskSpec]) -> list[str]:
    """Names of the spec's model-assisted fields."""
    return [
        name
        for name, f in spec_type.model_fields.items()
        if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get(_ASSISTED)
    ]
