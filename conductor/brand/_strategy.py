"""The brand strategy: a brand file's rules with their engine, and the loader.

:class:`BrandStrategy` is :class:`~conductor.brand._schema.BrandRules` (what the file
says) plus the rule engine compiled from it once; :func:`load_brand` reads and
validates a file, naming the line of any problem.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr, ValidationError

from conductor._yaml import (
    cached_parse,
    check_yaml_limits,
    read_text_file,
    to_plain,
    yaml_position,
)
from conductor.brand._catalog import RULES
from conductor.brand._engine import Engine
from conductor.brand._errors import brand_file_error, schema_error
from conductor.brand._schema import BrandRules
from conductor.brand._vocab import CustomPack, load_custom_pack
from conductor.errors import BrandError
from conductor.specs import Allocation, Audience, Copy, Insight
from conductor.verdict import Action, Severity, Verdict

__all__ = ["BrandStrategy", "check_copy", "load_brand", "parse_brand", "rule_ids"]


class BrandStrategy(BrandRules):
    """A brand's rules as code, with the engine that checks artifacts against them."""

    _engine: Engine | None = PrivateAttr(default=None)

    def engine(self) -> Engine:
        """The compiled rule engine for this strategy (built once, then reused)."""
        # Read the private slot directly: pydantic's ``__getattr__`` for private
        # attributes costs a few microseconds, and every check asks for the engine.
        private = self.__pydantic_private__
        engine = private.get("_engine") if private is not None else None
        if engine is None:
            engine = self._engine = Engine(self)
        return engine

    def action_for(self, rule: str, severity: Severity) -> Action:
        """The review policy's action for a rule id at a severity."""
        return self.engine().action_for(rule, severity)

    def review(
        self,
        artifacts: Sequence[Copy | Allocation | Audience | Insight],
        *,
        step: str | None = None,
    ) -> Verdict:
        """Check artifacts against every rule of the brand.

        Args:
            artifacts: What a step produced (copy, allocations, audiences, insights).
            step: The step id, for step-scoped sign-off rules and messages.

        Returns:
            A verdict listing every violation (with span, message, fix and the policy's
            action) and every reason a person must sign off.
        """
        return self.engine().review(artifacts, step=step)


def rule_ids() -> list[str]:
    """Every stable rule id the engine can report, sorted."""
    return sorted(RULES)


def check_copy(
    brand: BrandStrategy, channel: str, text: str, *, subject: str | None = None
) -> Verdict:
    """Check one piece of copy (what ``conductor check-copy`` runs).

    Args:
        brand: The brand strategy.
        channel: Channel it will be sent on.
        text: The copy exactly as the customer would see it.
        subject: Subject line, for email.

    Returns:
        The verdict for that one piece of copy (artifact id ``copy``).
    """
    return brand.review([Copy(id="copy", channel=channel, text=text, subject=subject)])


# --- loading -----------------------------------------------------------------------------


def _brand_read_error(message: str, *, code: str = "", **kw: Any) -> BrandError:
    """:func:`conductor._yaml.read_text_file`'s errors, in the brand file's words."""
    if code == "file.not-found":
        kw["hint"] = "check the path (brand files usually live in pipelines/brands/)"
        return brand_file_error("brand file not found", code=code, **kw)
    if code == "file.unreadable":
        kw["hint"] = kw.get("hint") or "save it as UTF-8 text"
        message = message.replace("cannot read file", "cannot read the brand file")
    return brand_file_error(message, code=code, **kw)


def load_brand(path: str | Path) -> BrandStrategy:
    """Load and validate a brand strategy file.

    Args:
        path: The YAML file.

    Returns:
        The validated strategy, its rule engine compiled.

    Raises:
        BrandError: The file is missing, is not valid YAML, or breaks the schema, or a
            custom claim pack it names (``claims.packs.custom``) is missing or broken;
            the error names the file, line and column and says how to fix it.
    """
    p = Path(path)
    text = read_text_file(p, error=_brand_read_error)
    return parse_brand(text, source=str(p))


def parse_brand(text: str, *, source: str = "<brand>") -> BrandStrategy:
    """Parse and validate brand YAML text (``load_brand`` without the file).

    Args:
        text: The YAML document.
        source: Name used in error locations; custom claim packs are read relative to
            its folder (the working directory for the default).

    Returns:
        The validated strategy.

    Raises:
        BrandError: Invalid YAML or schema, located by line and column.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError, YAMLWarning

    def parse(text: str) -> Any:
        check_yaml_limits(text, file=source, error=brand_file_error)
        with warnings.catch_warnings():
            # A reused anchor is a mistake in a brand file, not a note on stderr.
            warnings.simplefilter("error", YAMLWarning)
            return YAML(typ="rt").load(text)

    try:
        data = cached_parse(text, source, "parse_brand", parse)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise BrandError(
            f"not valid YAML: {problem.strip() or 'syntax error'}",
            file=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            code="brand.yaml",
            hint="check indentation, colons and quotes around text containing ':' or '#'",
        ) from None
    except (YAMLError, YAMLWarning) as exc:
        # A YAMLWarning (a reused anchor) reaches here when warnings are errors.
        raise BrandError(
            f"not valid YAML: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}",
            file=source,
            code="brand.yaml",
            hint="fix the YAML syntax",
        ) from None
    if data is None:
        raise BrandError(
            "the brand file is empty",
            file=source,
            code="brand.empty",
            hint="start from pipelines/brands/acme.yaml",
        )
    if not isinstance(data, Mapping):
        kind = "list" if isinstance(data, list) else "single value"
        lc = getattr(data, "lc", None)
        raise BrandError(
            f"the brand file must be a mapping of keys, not a {kind}",
            file=source,
            line=lc.line + 1 if lc is not None and lc.line is not None else 1,
            column=1,
            code="brand.invalid",
            hint="the file starts with keys such as 'name:', 'company:', 'voice:'",
        )
    custom = _custom_packs(data, source)
    rules = {f"claims.custom.{f}" for pack in custom for f in pack.pack.families}
    try:
        brand = BrandStrategy.model_validate(to_plain(data), context={"custom_rules": rules})
    except ValidationError as exc:
        raise schema_error(exc, data, source, BrandStrategy) from None
    brand._source = source
    brand._custom_packs = custom
    brand.engine()
    return brand


def _custom_packs(data: Mapping[str, Any], source: str) -> tuple[CustomPack, ...]:
    """The custom claim packs the brand file names, read before the file is validated.

    Read first so that the review policy may name their rule ids. Paths are relative to
    the brand file.

    Raises:
        BrandError: A pack file is missing (located at its entry in the brand file) or
            broken (located in the pack file), or two packs define the same family.
    """
    base = Path(source).parent
    packs: list[CustomPack] = []
    seen: dict[str, str] = {}
    for entry, loc in _pack_entries(data):
        path = base / entry
        if not path.is_file():
            line, col = yaml_position(data, loc)
            raise BrandError(
                f"custom claim pack {entry!r} not found (looked for {path})",
                file=source,
                line=line,
                column=col,
                code="brand.not-found",
                hint="paths in claims.packs.custom are relative to the brand file",
            )
        pack = load_custom_pack(path)
        for family in pack.pack.families:
            if family in seen:
                line, col = pack.lines[family]
                raise BrandError(
                    f"family {family!r} is also defined in {seen[family]}; each family is "
                    f"the rule claims.custom.{family}, so names must differ across packs",
                    file=pack.source,
                    line=line,
                    column=col,
                    code="brand.schema",
                    hint="rename one of the two families",
                )
            seen[family] = pack.source
        packs.append(pack)
    return tuple(packs)


def _pack_entries(data: Mapping[str, Any]) -> list[tuple[str, list[str | int]]]:
    """``claims.packs.custom`` as (path, where it is written); the schema reports the rest."""
    node: Any = data
    for key in ("claims", "packs", "custom"):
        node = node.get(key) if isinstance(node, Mapping) else None
    loc: list[str | int] = ["claims", "packs", "custom"]
    if isinstance(node, str):
        items: list[tuple[Any, list[str | int]]] = [(node, loc)]
    elif isinstance(node, list):
        items = [(p, [*loc, i]) for i, p in enumerate(node)]
    else:
        items = []
    return [(p, where) for p, where in items if isinstance(p, str) and p.strip()]
