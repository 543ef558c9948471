"""The pipeline file: its schema, and loading it with every schema problem located.

:func:`load_pipeline` parses the YAML into a :class:`Pipeline` and keeps the position of
every key, so unknown keys ("did you mean"), missing keys and bad values are reported as
``file:line:col: message`` with a hint. Semantic checks live in ``_validation``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from conductor._limits import path_problem, special_file_problem
from conductor._yaml import _Doc, read_yaml, to_plain
from conductor.data import DataCatalog, DataSource, NumberFormat, TimestampParse
from conductor.errors import PipelineError, PipelineInvalid
from conductor.goals import Channel, check_taxonomy

_STEP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


class StepConfig(BaseModel):
    """One step: which agent runs, after which steps, with which parameters."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    agent: str = Field(description="Registered agent name (see `conductor agents`).")
    needs: list[str] = Field(
        default_factory=list, description="Step ids that must finish first; their outputs flow in."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        alias="with",
        description="Agent parameters; they win over values derived from the goal.",
    )
    approve: list[str] = Field(
        default_factory=list, description="Roles (under `approvers`) that must sign off."
    )
    description: str = Field(default="", description="What this step is for, in words.")

    @field_validator("needs", "approve", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class ReviewConfig(BaseModel):
    """How brand review findings are handled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rounds: int = Field(
        default=2, ge=0, le=10, description="Revision rounds before `on_exhausted` applies."
    )
    on_exhausted: Literal["escalate", "block"] = Field(
        default="escalate",
        description="What happens when violations remain after `max_rounds` revisions.",
    )
    model_review: bool = Field(
        default=True,
        description="With a language model configured, also score copy against the brand "
        "voice (it can warn or escalate, never overrule a deterministic block).",
    )


class Limits(BaseModel):
    """Per-run caps; the run stops cleanly when one is hit and can be resumed after raising it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_llm_cost_usd: float | None = Field(default=None, ge=0, description="USD cap on LLM cost.")
    max_llm_calls: int | None = Field(default=None, ge=0, description="Cap on LLM calls.")


def _taxonomy_problem(taxonomy: Mapping[str, str]) -> str | None:
    try:
        check_taxonomy(taxonomy)
    except ValueError as exc:
        return str(exc)
    return None


class Pipeline(BaseModel):
    """A parsed pipeline file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(alias="pipeline", description="Pipeline name (letters, digits, - and _).")
    description: str = Field(default="", description="What the pipeline is for.")
    goal: str | dict[str, Any] = Field(description="Business goal: plain words or fields.")
    brand: Path | None = Field(default=None, description="Brand strategy file.")
    data: dict[str, DataSource] = Field(default_factory=dict, description="Named data sources.")
    channels: dict[str, str] | Path = Field(
        default_factory=dict,
        description="Channel taxonomy: each spelling the data uses -> its channel "
        "(`google / cpc: paid_search`), or a YAML file holding that map.",
    )
    steps: dict[str, StepConfig] = Field(description="Step id -> step.")
    approvers: dict[str, list[str]] = Field(
        default_factory=dict, description="Role -> names of people who may sign off."
    )
    review: ReviewConfig = Field(default_factory=ReviewConfig, description="Review policy.")
    limits: Limits = Field(default_factory=Limits, description="Run limits.")
    today: dt.date | None = Field(
        default=None, description="Pin the planning date (relative horizons resolve from it)."
    )
    source: Path = Field(default=Path("pipeline.yaml"), exclude=True, description="The file.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", v):
            raise ValueError("use letters, digits, '-', '_' or '.' (no spaces)")
        return v

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: {"path": s} if isinstance(s, str) else s for k, s in v.items()}
        return v

    @property
    def taxonomy(self) -> dict[str, str]:
        """The channel taxonomy (``channels:``, read from its file when it names one)."""
        return dict(self.channels) if isinstance(self.channels, dict) else {}

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: dict[str, StepConfig]) -> dict[str, StepConfig]:
        if not v:
            raise ValueError("a pipeline needs at least one step")
        for sid in v:
            if not _STEP_ID.match(sid):
                raise ValueError(f"step id {sid!r}: use a letter then letters, digits, - or _")
        return v

    @property
    def base_dir(self) -> Path:
        """Folder the pipeline file is in (relative paths resolve from here)."""
        return self.source.parent

    def resolve(self, path: Path | None) -> Path:
        """A path from the file, made absolute against the pipeline's folder.

        None (the ``path`` of a ``query`` data source) gives the pipeline file itself.
        """
        if path is None:
            return self.source.resolve()
        if path.is_absolute():
            return path
        try:
            return (self.base_dir / path).resolve()
        except (OSError, ValueError):  # a NUL byte, a loop: validation reports the path
            return self.base_dir / path

    def catalog(self) -> DataCatalog:
        """The data sources, with paths resolved."""
        return DataCatalog(
            {
                name: src.model_copy(update={"path": self.resolve(src.path)})
                if src.path is not None
                else src
                for name, src in self.data.items()
            },
            channels=self.taxonomy,
            base_dir=self.base_dir,
            pipeline_file=self.source,
        )

    def topo_order(self) -> list[str]:
        """Step ids so that every step comes after its needs (stable: file order)."""
        order: list[str] = []
        done: set[str] = set()
        remaining = list(self.steps)
        while remaining:
            progressed = False
            for sid in list(remaining):
                if all(n in done or n not in self.steps for n in self.steps[sid].needs):
                    order.append(sid)
                    done.add(sid)
                    remaining.remove(sid)
                    progressed = True
            if not progressed:  # cycle: validation reports it; keep file order for the rest
                order.extend(remaining)
                break
        return order


# ---------------------------------------------------------------------------- loading


_TOP_KEYS = {f.alias or n: n for n, f in Pipeline.model_fields.items() if n != "source"}
_STEP_KEYS = {f.alias or n: n for n, f in StepConfig.model_fields.items()}


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"allowed: {', '.join(sorted(options))}"


def _pydantic_errors(doc: _Doc, exc: ValidationError) -> list[PipelineError]:
    errors: list[PipelineError] = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        path = [("pipeline" if p == "name" and i == 0 else p) for i, p in enumerate(loc)]
        path = [("with" if p == "params" else p) for p in path]
        key = ".".join(str(p) for p in path)
        if err["type"] == "extra_forbidden":
            word = str(path[-1])
            parent = path[:-1]
            options = list(_TOP_KEYS) if not parent else []
            if len(parent) == 2 and parent[0] == "steps":
                options = list(_STEP_KEYS)
            elif parent == ["review"]:
                options = list(ReviewConfig.model_fields)
            elif parent == ["limits"]:
                options = list(Limits.model_fields)
            elif len(parent) == 2 and parent[0] == "data":
                options = list(DataSource.model_fields)
            elif len(parent) == 3 and parent[0] == "data" and parent[2] == "number":
                options = list(NumberFormat.model_fields)
            elif len(parent) == 4 and parent[0] == "data" and parent[2] == "timestamps":
                options = list(TimestampParse.model_fields)
            hint = _did_you_mean(word, options) if options else ""
            errors.append(
                doc.error(f"unknown key {word!r}", *path, code="pipeline.unknown-key", hint=hint)
            )
        elif err["type"] == "missing_path":  # a data source with neither path nor query
            errors.append(
                doc.error(
                    "missing required key 'path' (or 'query')",
                    *path,
                    code="pipeline.missing-key",
                    hint="give the file, e.g. `path: data/events.csv`, or a DuckDB `query:`",
                    key=key,
                )
            )
        elif err["type"] == "missing":
            errors.append(
                doc.error(
                    f"missing required key {str(path[-1])!r}",
                    *path[:-1],
                    code="pipeline.missing-key",
                    hint=_MISSING_HINTS.get(str(path[-1]), ""),
                    key=key,
                )
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            errors.append(doc.error(f"{key}: {msg}", *path, code="pipeline.bad-value", key=key))
    return errors


_MISSING_HINTS = {
    "pipeline": "give the pipeline a name, e.g. `pipeline: q3-growth`",
    "goal": 'state the business goal, e.g. `goal: "Grow online revenue 12% in Q3 2027"`',
    "steps": "list at least one step, e.g. `steps: {journeys: {agent: journey_analytics}}`",
    "agent": "say which agent runs this step, e.g. `agent: journey_analytics`",
}


@dataclass
class LoadedPipeline:
    """A pipeline plus its raw document (for error positions)."""

    pipeline: Pipeline
    doc: _Doc
    errors: list[PipelineError] = field(default_factory=list)


def _load(path: Path) -> LoadedPipeline:
    path = Path(path)
    root, text = read_yaml(path)
    doc = _Doc(path, root, text)
    if root is None:
        raise PipelineInvalid(
            [doc.error("the file is empty", code="pipeline.empty", hint=_MISSING_HINTS["pipeline"])]
        )
    if not isinstance(root, Mapping):
        raise PipelineInvalid(
            [
                doc.error(
                    "a pipeline file must be a mapping of keys (pipeline:, goal:, steps:, ...)",
                    code="pipeline.not-a-mapping",
                )
            ]
        )
    data = to_plain(root)
    data["source"] = path
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as exc:
        errors = _pydantic_errors(doc, exc)
        # Unknown keys alone should not hide the other problems: drop them and go on,
        # so `validate` can report every problem at once.
        cleaned = _drop_extra(data, exc)
        if cleaned is not None:
            try:
                pipeline = Pipeline.model_validate(cleaned)
            except ValidationError as again:
                # Checks that run only once the keys are known (a data source with no
                # `path` or `query`) are problems too: report them with the unknown keys.
                seen = {str(e) for e in errors}
                errors += [e for e in _pydantic_errors(doc, again) if str(e) not in seen]
            else:
                return LoadedPipeline(pipeline, doc, errors)
        raise PipelineInvalid(errors) from None
    pipeline, problems = _read_taxonomy_file(pipeline, doc)
    return LoadedPipeline(pipeline, doc, problems)


def _read_taxonomy_file(pipeline: Pipeline, doc: _Doc) -> tuple[Pipeline, list[PipelineError]]:
    """The pipeline with its channel taxonomy checked, read from its file when
    ``channels:`` names one (each problem located at its spelling, in whichever file)."""
    where: tuple[str, ...] = ("channels",)
    if isinstance(pipeline.channels, Path):
        path = pipeline.resolve(pipeline.channels)
        if problem := path_problem(path) or special_file_problem(path):
            code, message = problem
            bad = doc.error(f"channel taxonomy file: {message}", "channels", code=code)
            return pipeline.model_copy(update={"channels": {}}), [bad]
        if not path.exists():
            missing = doc.error(
                f"channel taxonomy file not found: {path}",
                "channels",
                code="file.not-found",
                hint="the path is relative to the pipeline file; or write the map inline",
            )
            return pipeline.model_copy(update={"channels": {}}), [missing]
        try:
            root, text = read_yaml(path)
        except PipelineError as exc:
            return pipeline.model_copy(update={"channels": {}}), [exc]
        doc, where = _Doc(path, root, text), ()
        if not isinstance(root, Mapping):
            not_a_map = doc.error(
                "a channel taxonomy file must be a map of spellings to channels",
                code="pipeline.bad-value",
                hint="e.g. `google / cpc: paid_search` on each line",
            )
            return pipeline.model_copy(update={"channels": {}}), [not_a_map]
        given: Mapping[Any, Any] = to_plain(root)
    else:
        given = pipeline.channels
    errors: list[PipelineError] = []
    mapping: dict[str, str] = {}
    for spelling, value in given.items():
        wrong = _taxonomy_problem({str(spelling): str(value)}) if value else "no channel given"
        if wrong:
            errors.append(
                doc.error(
                    f"channels: {str(spelling)!r} -> {value!r} is not a channel",
                    *where,
                    str(spelling),
                    code="pipeline.bad-value",
                    hint=f"use one of {', '.join(c.value for c in Channel)}",
                )
            )
        else:
            mapping[str(spelling)] = str(value)
    if not errors and (clash := _taxonomy_problem(mapping)):
        errors.append(doc.error(clash, *where, code="pipeline.bad-value"))
    return pipeline.model_copy(update={"channels": mapping if not errors else {}}), errors


def _drop_extra(data: dict[str, Any], exc: ValidationError) -> dict[str, Any] | None:
    """``data`` without the unknown keys, or None if there are other kinds of errors."""
    if any(e["type"] != "extra_forbidden" for e in exc.errors()):
        return None
    cleaned: dict[str, Any] = json.loads(json.dumps(data, default=str))
    cleaned["source"] = data["source"]
    for e in exc.errors():
        node: Any = cleaned
        loc = ["pipeline" if (p == "name" and i == 0) else p for i, p in enumerate(e["loc"])]
        loc = ["with" if p == "params" else p for p in loc]
        for key in loc[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(str(loc[-1]), None)
    return cleaned


def load_pipeline(path: str | Path) -> Pipeline:
    """Load and schema-check a pipeline file (semantic checks: :func:`validate_pipeline`).

    Raises:
        PipelineInvalid: every schema problem, each located ``file:line:col``.
    """
    loaded = _load(Path(path))
    if loaded.errors:
        raise PipelineInvalid(loaded.errors)
    return loaded.pipeline
