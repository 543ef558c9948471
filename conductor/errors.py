"""Every error Conductor raises on purpose.

One hierarchy, one file. Each error carries a short stable ``code`` (documented in
``docs/errors.md``), the context it happened in, and a hint that says how to fix it::

    ConductorError
     ├── PipelineError        file, line, column, key      (pipeline YAML)
     │    └── PipelineInvalid  many PipelineErrors at once  (``conductor validate``)
     ├── GoalError            the goal text and what is missing or contradictory
     ├── SpecError            step, agent, field           (task spec failed its schema)
     ├── DataError            source, column, file         (data sources)
     ├── BrandError           file, line                   (brand strategy file)
     ├── AgentError           step, agent                  (an agent failed)
     │    └── AgentNotFound   agent                        (not registered)
     ├── BrandBlocked         step, violations             (a block-severity rule fired)
     ├── ApprovalError        run, step, who               (not allowed / nothing to approve)
     ├── PlanError            file, changes                (a saved plan: unreadable, or stale)
     ├── RunError             run                          (unknown run, run busy, bad state)
     │    └── RunLocked        run                         (another process is writing it)
     ├── ScaffoldError        path                         (``conductor new``: bad name, file exists)
     ├── BudgetExceeded       run, limit                   (LLM cost or call cap hit)
     └── LLMError             model, attempt               (provider failed after retries)

The CLI prints ``str(error)`` (one readable block) and never a traceback for these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "AgentError",
    "AgentNotFound",
    "ApprovalError",
    "BrandBlocked",
    "BrandError",
    "BudgetExceeded",
    "ConductorError",
    "DataError",
    "GoalError",
    "LLMError",
    "PipelineError",
    "PipelineInvalid",
    "PlanError",
    "RunError",
    "RunLocked",
    "ScaffoldError",
    "SpecError",
    "StoreError",
]


class ConductorError(Exception):
    """Base of every error Conductor raises deliberately.

    Attributes:
        message: What went wrong, in words a marketing-ops lead understands.
        code: Short stable identifier such as ``pipeline.unknown-agent``.
        hint: How to fix it (may be empty).
    """

    default_code = "conductor.error"
    exit_code = 1

    def __init__(self, message: str, *, code: str | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.hint = hint

    def location(self) -> str:
        """Where the problem is, as a prefix for the message (may be empty)."""
        return ""

    def __str__(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, for ``--json`` outputs and ``result.json``."""
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        loc = self.location()
        if loc:
            data["where"] = loc
        return data


class PipelineError(ConductorError):
    """A problem in a pipeline file, located by file, line and column (1-based)."""

    default_code = "pipeline.invalid"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.key = key

    def location(self) -> str:
        if self.file is None:
            return ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class PipelineInvalid(PipelineError):
    """Several pipeline problems reported together (``conductor validate``)."""

    default_code = "pipeline.invalid"

    def __init__(self, errors: Sequence[PipelineError]) -> None:
        self.errors = list(errors)
        first = self.errors[0] if self.errors else None
        super().__init__(
            f"{len(self.errors)} problem(s) in the pipeline",
            file=first.file if first else None,
        )

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class GoalError(ConductorError):
    """A business goal that cannot be understood, lacks what a step needs, or contradicts itself."""

    default_code = "goal.invalid"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        missing: Sequence[str] = (),
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.text = text
        self.missing = list(missing)

    def location(self) -> str:
        return "goal"


class SpecError(ConductorError):
    """A task spec that fails its agent's schema."""

    default_code = "spec.invalid"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        agent: str | None = None,
        field: str | None = None,
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.step = step
        self.agent = agent
        self.field = field

    def location(self) -> str:
        parts = []
        if self.step:
            parts.append(f"step {self.step!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)


class DataError(ConductorError):
    """A data source that is missing, unreadable, or lacks a column of the right type."""

    default_code = "data.invalid"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        column: str | None = None,
        file: str | Path | None = None,
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.source = source
        self.column = column
        self.file = str(file) if file is not None else None

    def location(self) -> str:
        parts = []
        if self.source:
            parts.append(f"data source {self.source!r}")
        if self.file:
            parts.append(f"({self.file})")
        if self.column:
            parts.append(f"column {self.column!r}")
        return " ".join(parts)


class BrandError(ConductorError):
    """A brand strategy file that cannot be loaded or fails its schema."""

    default_code = "brand.invalid"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column

    def location(self) -> str:
        if self.file is None:
            return ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class AgentError(ConductorError):
    """An agent failed while planning or running a step."""

    default_code = "agent.failed"

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        agent: str | None = None,
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.step = step
        self.agent = agent

    def location(self) -> str:
        parts = []
        if self.step:
            parts.append(f"step {self.step!r}")
        if self.agent:
            parts.append(f"agent {self.agent!r}")
        return ", ".join(parts)


class AgentNotFound(AgentError):
    """No agent is registered under the requested name."""

    default_code = "agent.not-found"
    exit_code = 2


class BrandBlocked(ConductorError):
    """A block-severity brand rule fired: the step's output may not leave the run."""

    default_code = "brand.blocked"

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        violations: Sequence[Any] = (),
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.step = step
        self.violations = list(violations)

    def location(self) -> str:
        return f"step {self.step!r}" if self.step else ""


class ApprovalError(ConductorError):
    """An approval decision that is not allowed (wrong person, nothing waiting, ...)."""

    default_code = "approval.refused"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        run: str | None = None,
        step: str | None = None,
        who: str | None = None,
        code: str | None = None,
        hint: str = "",
        violations: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.run = run
        self.step = step
        self.who = who
        # An edit that still breaks the brand rules: each violation, for a form to show.
        self.violations = [dict(v) for v in violations]

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.violations:
            data["violations"] = self.violations
        return data

    def location(self) -> str:
        parts = []
        if self.run:
            parts.append(f"run {self.run}")
        if self.step:
            parts.append(f"step {self.step!r}")
        return ", ".join(parts)


class PlanError(ConductorError):
    """A saved plan (``conductor plan --out``) that cannot be read, or no longer matches.

    Attributes:
        file: The plan file.
        changes: What changed since the plan was made, one readable line each
            (``plan.changed``); empty for a plan that cannot be read.
    """

    default_code = "plan.invalid"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        changes: Sequence[str] = (),
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.file = str(file) if file is not None else None
        self.changes = list(changes)

    def location(self) -> str:
        return self.file or ""

    def __str__(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        for line in self.changes:
            text += f"\n  {line}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.changes:
            data["changes"] = list(self.changes)
        return data


class RunError(ConductorError):
    """A run that does not exist or is in the wrong state for the request."""

    default_code = "run.invalid"
    exit_code = 2

    def __init__(
        self, message: str, *, run: str | None = None, code: str | None = None, hint: str = ""
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.run = run

    def location(self) -> str:
        return f"run {self.run}" if self.run else ""


class RunLocked(RunError):
    """Another process is writing this run; runs have one writer at a time."""

    default_code = "run.locked"


class ScaffoldError(ConductorError):
    """``conductor new`` cannot write what was asked: a name that cannot be an agent's, or a
    file or folder that is already there (a scaffold never overwrites anything)."""

    default_code = "new.invalid"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.path = str(path) if path is not None else None

    def location(self) -> str:
        return self.path or ""


class StoreError(ConductorError):
    """The run store or the run's folder cannot be written or reached: a full disk, a
    read-only file system, a lost database connection. Not a bug: fix the resource, then
    ``conductor resume`` (finished steps are kept in the checkpoints)."""

    default_code = "store.failed"
    exit_code = 1

    def __init__(
        self, message: str, *, where: str | None = None, code: str | None = None, hint: str = ""
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.where = where

    def location(self) -> str:
        return self.where or ""


class BudgetExceeded(ConductorError):
    """A run limit (LLM cost or number of calls) was reached; raise it and resume."""

    default_code = "limits.exceeded"

    def __init__(
        self,
        message: str,
        *,
        run: str | None = None,
        limit: str | None = None,
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.run = run
        self.limit = limit

    def location(self) -> str:
        return f"run {self.run}" if self.run else ""


class LLMError(ConductorError):
    """The language-model provider failed, or kept answering with invalid output."""

    default_code = "llm.failed"

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        attempt: int | None = None,
        code: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.model = model
        self.attempt = attempt

    def location(self) -> str:
        return f"model {self.model}" if self.model else ""


def error_text(error: Mapping[str, Any]) -> str:
    """A recorded error's message (as :meth:`ConductorError.to_dict` wrote it), led by
    where the problem is (data source, column, file) when that is known.

    The CLI, the run summary and the HTML report all show a failed step this way, so a
    user reading any of them learns which file or column to fix.
    """
    where, message = error.get("where"), str(error.get("message", ""))
    return f"{where}: {message}" if where else message
