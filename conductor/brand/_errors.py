"""Where a brand file's schema errors are: line and column in the YAML, and a hint.

Used by :func:`conductor.brand.parse_brand` and for rule-pack files
(:mod:`conductor.brand._vocab`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from conductor._yaml import yaml_position
from conductor.errors import BrandError

__all__ = ["schema_error"]


def _locate(data: Any, loc: Sequence[int | str]) -> tuple[int | None, int | None]:
    """Line and column (1-based) of the deepest node of ``loc`` that exists in the YAML.

    Where not even the first key exists, the document's own first line answers.
    """
    top = getattr(data, "lc", None)
    start: tuple[int | None, int | None] = (1, 1)
    if top is not None and top.line is not None:
        start = (top.line + 1, top.col + 1)
    return yaml_position(data, loc, start)


_QUOTED_RULE = re.compile(r"unknown rule id '([^']+)'")


def _locate_member(
    data: Any, loc: Sequence[int | str], member: str, default: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    """Line and column of a key of the mapping (or an item of the list) at ``loc``."""
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return default
    lc = getattr(node, "lc", None)
    if lc is None:
        return default
    try:
        if isinstance(node, Mapping) and member in node:
            ln, cn = lc.key(member)
            return ln + 1, cn + 1
        if isinstance(node, list) and member in node:
            ln, cn = lc.item(node.index(member))
            return ln + 1, cn + 1
    except (KeyError, IndexError, TypeError):
        pass
    return default


def _model_at(root: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for 'did you mean')."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (dict, list):
            args = get_args(current)
            current = args[-1] if args else None
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    args = [a for a in get_args(tp) if a is not type(None)]
    if get_origin(tp) not in (dict, list) and len(args) == 1:
        return args[0]
    return tp


def schema_error(
    exc: ValidationError,
    data: Any,
    source: str,
    root: type[BaseModel],
    *,
    code: str = "brand.schema",
    hint: str = "see docs/brand.md for every key of the brand file",
) -> BrandError:
    """One readable ``BrandError`` for a brand file (or rule pack) that fails its schema.

    Every problem is located in the YAML (line and column from ruamel's round-trip
    data); the first one leads the message and the rest follow it in short. ``code``
    and ``hint`` are the error's when no problem has a hint of its own.
    """
    problems: list[tuple[int | None, int | None, str, str]] = []
    own_code = ""
    for err in exc.errors(include_url=False):
        # Pydantic adds the union member / validator name to loc; those are not YAML keys.
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        cause = (err.get("ctx") or {}).get("error")
        loc += list(getattr(cause, "loc", ()))
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        line, col = _locate(data, loc)
        tip = ""
        if err["type"] == "extra_forbidden":
            model = _model_at(root, loc[:-1])
            known = list(model.model_fields) if model else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.5)
            msg = f"unknown key {str(loc[-1])!r}"
            if close:
                msg += f" (did you mean {close[0]!r}?)"
                tip = f"rename it to {close[0]!r}"
            elif known:
                tip = "allowed keys here: " + ", ".join(known)
        elif err["type"] == "missing":
            msg = f"missing required key {str(loc[-1])!r}"
            line, col = _locate(data, loc[:-1])
            tip = f"add '{loc[-1]}:' (see docs/brand.md)"
        else:
            text = err["msg"].removeprefix("Value error, ")
            msg = f"{dotted}: {text}"
            if err["type"] == "enum":
                tip = "use one of the allowed values"
            cause_code = getattr(cause, "code", None)
            if cause_code and not problems:
                # A validator's own error (an unsafe pattern) keeps its code and hint.
                own_code = str(cause_code)
                tip = str(getattr(cause, "hint", "") or "")
            named = _QUOTED_RULE.search(text)
            if named is not None:
                # Point at the offending rule id itself, not at the list or mapping.
                line, col = _locate_member(data, loc, named.group(1), (line, col))
        problems.append((line, col, msg, tip))
    first = problems[0]
    problems.sort(key=lambda p: (p[0] or 0, p[1] or 0))
    line, col, msg, tip = problems[0]
    if own_code and problems[0] is first:
        code = own_code
    if len(problems) > 1:
        more = "; ".join(f"line {p[0]}: {p[2]}" for p in problems[1:6])
        msg += f" (and {len(problems) - 1} more: {more})"
    return BrandError(
        msg,
        file=source,
        line=line,
        column=col,
        code=code,
        hint=tip or hint,
    )


_FILE_CODES = {
    "file.not-found": "brand.not-found",
    "file.unreadable": "brand.unreadable",
    "yaml.syntax": "brand.yaml",
}


def brand_file_error(message: str, *, code: str = "", **kw: Any) -> BrandError:
    """:func:`conductor._yaml.read_yaml`'s errors, as brand errors about a brand or pack
    file (input-limit codes such as ``yaml.too-deep`` are kept as they are)."""
    return BrandError(message, code=_FILE_CODES.get(code, code or "brand.unreadable"), **kw)
