"""Saved plans: ``conductor plan FILE --out plan.json``, then ``conductor run --plan plan.json``.

A saved plan holds what a run would do and what it was derived from: the resolved goal,
each step's typed spec with its hash, the pipeline file's content and SHA-256, a
fingerprint (size and SHA-256) of every file the pipeline reads (data sources, the brand
strategy, a channel taxonomy file) and the version of every agent used. Running it runs
exactly those specs; when any of those inputs changed since, it is refused with what
changed (:class:`~conductor.errors.PlanError`, code ``plan.changed``), as Terraform
refuses a stale plan.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conductor.agents import Agent, get_agent
from conductor.errors import ConductorError, PlanError
from conductor.goals import BusinessGoal
from conductor.pipeline._file import Pipeline
from conductor.pipeline._planning import StepPlan, plan_pipeline, resolve_goal
from conductor.specs import spec_hash

__all__ = [
    "PLAN_FORMAT",
    "FileFingerprint",
    "SavedPlan",
    "SavedStep",
    "apply_saved_plan",
    "read_plan",
    "save_plan",
    "write_plan",
]

PLAN_FORMAT = "conductor-plan/1"
"""The ``format`` of a saved plan file; another value is refused as foreign."""

#: A plan file is a few kilobytes; anything far larger is not one.
_MAX_PLAN_BYTES = 20_000_000
_GLOB_CHARS = frozenset("*?[")


class FileFingerprint(BaseModel):
    """Size and SHA-256 of one file a pipeline reads (or of every file a glob matches)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="The path as the pipeline file writes it.")
    size: int | None = Field(description="Bytes (summed over a glob's files); None: missing.")
    sha256: str | None = Field(description="SHA-256 of the content; None when missing.")
    files: int = Field(default=1, description="Number of files (a glob matches several).")

    def describe(self) -> str:
        """``1,234 B, sha256 ab12cd34ef56`` or ``missing``."""
        if self.sha256 is None:
            return "missing"
        many = f"{self.files} files, " if self.files != 1 else ""
        return f"{many}{self.size:,} B, sha256 {self.sha256[:12]}"


class SavedStep(BaseModel):
    """One step of a saved plan: its spec as planned, and the agent that will run it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str = Field(description="Agent name.")
    agent_version: str = Field(description="The agent class's `version`.")
    package: str | None = Field(
        default=None, description="Distribution providing the agent, as `name==version`."
    )
    needs: list[str] = Field(description="Upstream step ids.")
    slots: dict[str, str] = Field(description="Agent input slot -> upstream step id.")
    spec: dict[str, Any] = Field(description="The typed spec, as JSON.")
    spec_hash: str = Field(description="Hash of the spec (see `conductor.spec_hash`).")
    provenance: dict[str, Any] = Field(description="Spec field -> where its value came from.")
    approve: list[str] = Field(description="Roles that must sign off.")


class SavedPlan(BaseModel):
    """What ``conductor plan --out`` writes and ``conductor run --plan`` runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["conductor-plan/1"] = Field(description="File format and version.")
    created: dt.datetime = Field(description="When the plan was made (UTC).")
    pipeline: str = Field(description="Pipeline name.")
    pipeline_file: str = Field(description="Absolute path of the pipeline file.")
    pipeline_sha256: str = Field(description="SHA-256 of the pipeline file's bytes.")
    pipeline_text: str = Field(description="The pipeline file's text, to show what changed.")
    today: dt.date = Field(description="The planning date; the run uses it too.")
    goal: dict[str, Any] = Field(description="The resolved, typed goal.")
    files: dict[str, FileFingerprint] = Field(
        description="What the pipeline reads: `data.<source>`, `brand`, `channels`."
    )
    steps: dict[str, SavedStep] = Field(description="Step id -> step, in run order.")

    def pipeline_path(self, plan_file: str | Path | None = None) -> Path:
        """Where the pipeline file is: as recorded, else next to the plan under its name.

        A checkout moved elsewhere keeps working when the plan file moved with it.
        """
        recorded = Path(self.pipeline_file)
        if recorded.exists() or plan_file is None:
            return recorded
        beside = Path(plan_file).parent / recorded.name
        return beside if beside.exists() else recorded


# --------------------------------------------------------------------------- fingerprints


def _sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def fingerprint(written: str, path: Path) -> FileFingerprint:
    """Size and SHA-256 of ``path``; of every file it matches when it is a glob."""
    if _GLOB_CHARS & set(str(path)):
        root = Path(path.anchor) if path.is_absolute() else Path()
        pattern = str(path.relative_to(root)) if path.is_absolute() else str(path)
        matches = sorted(m for m in root.glob(pattern) if m.is_file())
        if not matches:
            return FileFingerprint(path=written, size=None, sha256=None, files=0)
        digest = hashlib.sha256()
        total = 0
        for m in matches:
            size, sha = _sha256(m)
            total += size
            digest.update(f"{m.name}\0{size}\0{sha}\n".encode())
        return FileFingerprint(
            path=written, size=total, sha256=digest.hexdigest(), files=len(matches)
        )
    try:
        size, sha = _sha256(path)
    except OSError:  # missing or unreadable: validation reports why; here it is a change
        return FileFingerprint(path=written, size=None, sha256=None)
    return FileFingerprint(path=written, size=size, sha256=sha)


def pipeline_fingerprints(pipeline: Pipeline) -> dict[str, FileFingerprint]:
    """Fingerprints of every file the pipeline names: data sources, brand, channel file.

    A ``query`` data source is fingerprinted by its text (in the pipeline file), not by
    the files its SQL reads.
    """
    found: dict[str, FileFingerprint] = {}
    for name, src in pipeline.data.items():
        if src.path is not None:
            found[f"data.{name}"] = fingerprint(str(src.path), pipeline.resolve(src.path))
    if pipeline.brand is not None:
        found["brand"] = fingerprint(str(pipeline.brand), pipeline.resolve(pipeline.brand))
    if isinstance(pipeline.channels, Path):
        found["channels"] = fingerprint(str(pipeline.channels), pipeline.resolve(pipeline.channels))
    return found


def _package_of(cls: type[Agent[Any, Any]]) -> str | None:
    """``dist==version`` of the installed distribution that provides the agent's module."""
    from importlib import metadata

    top = cls.__module__.split(".")[0]
    try:
        dists = metadata.packages_distributions().get(top) or []
        if not dists:
            return None
        return f"{dists[0]}=={metadata.version(dists[0])}"
    except Exception:  # broken metadata must not stop a plan: the class version still counts
        return None


# --------------------------------------------------------------------------- saving


def save_plan(
    pipeline: Pipeline, goal: BusinessGoal, plans: Mapping[str, StepPlan], today: dt.date
) -> SavedPlan:
    """The saved form of a plan made by :func:`plan_pipeline` (pure: writes nothing)."""
    source = pipeline.source.resolve()
    raw = source.read_bytes()
    steps: dict[str, SavedStep] = {}
    for sid, pl in plans.items():
        cls = get_agent(pl.agent)
        steps[sid] = SavedStep(
            agent=pl.agent,
            agent_version=str(cls.version),
            package=_package_of(cls),
            needs=list(pl.needs),
            slots=dict(pl.slots),
            spec=pl.spec.model_dump(mode="json"),
            spec_hash=pl.spec_hash,
            provenance=dict(pl.provenance),
            approve=list(pl.approve),
        )
    return SavedPlan(
        format=PLAN_FORMAT,
        created=dt.datetime.now(dt.UTC),
        pipeline=pipeline.name,
        pipeline_file=str(source),
        pipeline_sha256=hashlib.sha256(raw).hexdigest(),
        pipeline_text=raw.decode("utf-8", errors="replace"),
        today=today,
        goal=goal.model_dump(mode="json"),
        files=pipeline_fingerprints(pipeline),
        steps=steps,
    )


def write_plan(saved: SavedPlan, path: str | Path) -> Path:
    """Write ``saved`` as indented JSON (atomically: a crash leaves the old file)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(saved.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        raise PlanError(
            f"cannot write the plan: {exc.strerror or exc}",
            file=target,
            code="plan.unwritable",
            hint="choose another file with --out",
        ) from None
    return target


def read_plan(path: str | Path) -> SavedPlan:
    """Read a saved plan.

    Raises:
        PlanError: ``plan.unreadable`` (missing, unreadable, not JSON) or ``plan.invalid``
            (not a Conductor plan, another format version, or a field that is wrong),
            one readable message either way.
    """
    file = Path(path)
    try:
        if file.stat().st_size > _MAX_PLAN_BYTES:
            raise PlanError(
                f"the file is {file.stat().st_size:,} bytes, far more than a plan",
                file=file,
                code="plan.invalid",
                hint="give the file `conductor plan FILE --out` wrote",
            )
        data = json.loads(file.read_text(encoding="utf-8"))
    except PlanError:
        raise
    except FileNotFoundError:
        raise PlanError(
            "no such plan file",
            file=file,
            code="plan.unreadable",
            hint="make one with `conductor plan PIPELINE --out plan.json`",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(
            f"cannot read the plan: {getattr(exc, 'strerror', None) or exc}",
            file=file,
            code="plan.unreadable",
        ) from None
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            file=file,
            code="plan.unreadable",
            hint="give the file `conductor plan FILE --out` wrote",
        ) from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        what = f"its format is {found!r}" if found else "it has no `format` field"
        raise PlanError(
            f"not a Conductor plan ({what}; expected {PLAN_FORMAT!r})",
            file=file,
            code="plan.invalid",
            hint="make one with `conductor plan PIPELINE --out plan.json`",
        )
    try:
        return SavedPlan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PlanError(
            f"{where}: {first['msg']}{more}",
            file=file,
            code="plan.invalid",
            hint="the plan was edited or damaged; make a new one with `conductor plan`",
        ) from None


# --------------------------------------------------------------------------- applying


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _pipeline_diff(saved: SavedPlan, now_text: str, shown: str) -> list[str]:
    lines = list(
        difflib.unified_diff(
            saved.pipeline_text.splitlines(),
            now_text.splitlines(),
            fromfile=f"{shown} (planned)",
            tofile=f"{shown} (now)",
            lineterm="",
            n=1,
        )
    )
    if len(lines) > 40:
        lines = [*lines[:40], f"... ({len(lines) - 40} more diff lines)"]
    return ["pipeline file changed:", *(f"  {line}" for line in lines)]


def _spec_changes(saved: SavedPlan, fresh: Mapping[str, StepPlan]) -> list[str]:
    """Which spec fields a plan made now would change, step by step."""
    out: list[str] = []
    for sid in sorted(set(saved.steps) | set(fresh)):
        if sid not in fresh:
            out.append(f"step {sid}: no longer in the pipeline")
            continue
        if sid not in saved.steps:
            out.append(f"step {sid}: new (agent {fresh[sid].agent})")
            continue
        before = saved.steps[sid].spec
        after = fresh[sid].spec.model_dump(mode="json")
        if saved.steps[sid].agent != fresh[sid].agent:
            out.append(f"step {sid}: agent {saved.steps[sid].agent} -> {fresh[sid].agent}")
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                old = _short(before[key]) if key in before else "(absent)"
                new = _short(after[key]) if key in after else "(absent)"
                out.append(f"step {sid} spec.{key}: {old} -> {new}")
    return out


def _agent_changes(saved: SavedPlan, steps: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for sid in steps:
        step = saved.steps[sid]
        if step.agent in seen:
            continue
        seen.add(step.agent)
        try:
            cls = get_agent(step.agent)
        except ConductorError as exc:
            out.append(f"agent {step.agent}: {exc.message}")
            continue
        if str(cls.version) != step.agent_version:
            out.append(f"agent {step.agent}: version {step.agent_version} -> {cls.version}")
        package = _package_of(cls)
        if step.package != package:
            out.append(f"agent {step.agent}: package {step.package} -> {package}")
    return out


def plan_changes(
    saved: SavedPlan,
    pipeline: Pipeline,
    *,
    brand: Any = None,
    today: dt.date | None = None,
) -> list[str]:
    """What changed since ``saved`` was made, one readable line each (empty: nothing).

    Compares the pipeline file, every file it reads, the agents' versions and the
    planning date; when one of them changed, also plans afresh and lists the spec fields
    that would change (best effort: a pipeline that no longer plans says why).
    """
    changes: list[str] = []
    raw = pipeline.source.read_bytes()
    if hashlib.sha256(raw).hexdigest() != saved.pipeline_sha256:
        text = raw.decode("utf-8", errors="replace")
        changes += _pipeline_diff(saved, text, pipeline.source.name)
    now = pipeline_fingerprints(pipeline)
    for key in sorted(set(saved.files) | set(now)):
        label = key.replace("data.", "data source ", 1) if key.startswith("data.") else key
        before, after = saved.files.get(key), now.get(key)
        if before is None and after is not None:
            changes.append(f"{label} ({after.path}): new since the plan")
        elif after is None and before is not None:
            changes.append(f"{label} ({before.path}): no longer in the pipeline")
        elif before is not None and after is not None and before != after:
            where = before.path if before.path == after.path else f"{before.path} -> {after.path}"
            changes.append(f"{label} ({where}) changed: {before.describe()} -> {after.describe()}")
    changes += _agent_changes(saved, saved.steps)
    if today is not None and today != saved.today:
        changes.append(f"today: planned for {saved.today}, asked to run as of {today}")
    if changes:
        try:
            goal = resolve_goal(pipeline, saved.today)
            if goal.model_dump(mode="json") != saved.goal:
                changes.append("goal: resolves differently now")
            fresh = plan_pipeline(pipeline, goal, brand=brand, today=saved.today)
            changes += _spec_changes(saved, fresh)
        except ConductorError as exc:
            changes.append(f"planning now fails: {exc.message}")
    return changes


def apply_saved_plan(
    saved: SavedPlan,
    pipeline: Pipeline,
    *,
    brand: Any = None,
    today: dt.date | None = None,
    plan_file: str | Path | None = None,
) -> tuple[BusinessGoal, dict[str, StepPlan]]:
    """The goal and step plans of ``saved``, after checking nothing changed since.

    Args:
        saved: The plan, from :func:`read_plan`.
        pipeline: The pipeline, loaded from the file the plan was made from.
        brand: The pipeline's brand strategy (used only to list spec changes).
        today: A planning date asked for now; another than the plan's is a change.
        plan_file: The plan's file, named in errors.

    Raises:
        PlanError: ``plan.changed`` with every change listed, or ``plan.invalid`` when a
            spec no longer matches its hash or its agent's spec type.
    """
    changes = plan_changes(saved, pipeline, brand=brand, today=today)
    if changes:
        raise PlanError(
            "the pipeline or what it reads changed since this plan was made; nothing was run",
            file=plan_file,
            changes=changes,
            code="plan.changed",
            hint=f"review the changes, then plan again: `conductor plan {pipeline.source} "
            f"--out {plan_file or 'plan.json'}`",
        )
    try:
        goal = BusinessGoal.model_validate(saved.goal)
    except ValidationError as exc:
        raise PlanError(
            f"goal: {exc.errors()[0]['msg']}",
            file=plan_file,
            code="plan.invalid",
            hint="the plan was edited or damaged; make a new one with `conductor plan`",
        ) from None
    plans: dict[str, StepPlan] = {}
    for sid, step in saved.steps.items():
        cls = get_agent(step.agent)
        try:
            spec = cls.spec_type.model_validate(step.spec)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise PlanError(
                f"step {sid}: spec.{where}: {first['msg']}",
                file=plan_file,
                code="plan.invalid",
                hint="the plan was edited or damaged; make a new one with `conductor plan`",
            ) from None
        if spec_hash(spec) != step.spec_hash:
            raise PlanError(
                f"step {sid}: the spec does not match its recorded hash {step.spec_hash}",
                file=plan_file,
                code="plan.invalid",
                hint="a saved plan runs exactly what was reviewed; make a new one with "
                "`conductor plan` instead of editing it",
            )
        plans[sid] = StepPlan(
            step=sid,
            agent=step.agent,
            needs=list(step.needs),
            slots=dict(step.slots),
            spec=spec,
            spec_hash=step.spec_hash,
            provenance=dict(step.provenance),
            approve=list(step.approve),
        )
    return goal, plans
