"""Every error code the code can raise is documented in docs/errors.md, and every code the
docs list still exists (so the docs neither lag nor lie)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conductor import errors

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
CODE = re.compile(r"^[a-z]+\.[a-z0-9-]+$")


def _codes_in_source() -> set[str]:
    """String literals passed as ``code=`` or stored under a ``"code"`` key."""
    found: set[str] = set()
    for path in [*ROOT.glob("conductor/**/*.py"), *ROOT.glob("agents/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                # The budget's `self.fail(message, code, hint)` takes the code by position.
                if isinstance(node.func, ast.Attribute) and node.func.attr == "fail":
                    found.update(
                        str(a.value) for a in node.args[1:2] if isinstance(a, ast.Constant)
                    )
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                        found.add(str(kw.value.value))
            elif isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(k, ast.Constant)
                        and k.value == "code"
                        and isinstance(v, ast.Constant)
                    ):
                        found.add(str(v.value))
    return {c for c in found if CODE.match(c)}


def _documented() -> set[str]:
    codes = set(re.findall(r"`([a-z]+\.[a-z0-9-]+)`", DOCS))
    # `personalization.*` rows list their suffixes in one cell.
    for row in re.findall(r"\| `(\w+)\.\*` \|([^|]*)\|", DOCS):
        family, cell = row
        codes |= {f"{family}.{s}" for s in re.findall(r"`([a-z0-9-]+)`", cell)}
    return codes


def test_every_raised_code_is_documented() -> None:
    source = _codes_in_source()
    assert len(source) > 80, "the scan found too few codes: is it still reading the code?"
    defaults = {getattr(errors, n).default_code for n in errors.__all__}
    missing = sorted((source | defaults) - _documented())
    assert missing == [], f"add these codes to docs/errors.md: {missing}"


def test_documented_codes_exist() -> None:
    text = "\n".join(
        p.read_text(encoding="utf-8")
        for p in [*ROOT.glob("conductor/**/*.py"), *ROOT.glob("agents/**/*.py")]
    )
    rule_like = {"voice.banned-phrase", "claims.forbidden"}  # brand rule ids, see brand.md
    stale = sorted(c for c in _documented() - rule_like if c not in text)
    assert stale == [], f"docs/errors.md lists codes nothing raises: {stale}"
