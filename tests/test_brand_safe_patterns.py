"""Brand-supplied regular expressions cannot make a check slow (issue 17, item 7).

A pattern the backtracking matcher could take exponential or polynomial time on
(``(a+)+b``, ``(a|a)*``, ``\\d+\\d+``, a backreference) is refused when the brand file
or its custom pack is loaded, as a ``brand.unsafe-pattern`` error at the pattern's
``file:line`` naming the construct; every pattern that is accepted runs in time linear
in the copy (no ambiguity, and each repeat capped: see ``conductor/brand/_safe_regex.py``).

Anything that could hang runs in a subprocess with a generous timeout, so a regression
fails the test instead of hanging the suite. Subprocesses start in the current folder
(not with PYTHONPATH), so the tests can be pointed at another checkout's code.
"""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conductor.brand import load_brand, parse_brand
from conductor.errors import BrandError

ROOT = Path(__file__).resolve().parent.parent
BRANDS = ROOT / "pipelines" / "brands"
PACKS = ROOT / "tests" / "brand_packs"

_BASE = """\
name: Testbrand
company:
  legal_name: Testbrand Inc.
  postal_address: 1 Main Street, Springfield
  unsubscribe_url: https://testbrand.example/u
"""


def _forbidden(pattern: str) -> str:
    return _BASE + textwrap.dedent(
        f"""\
        claims:
          forbidden:
            - pattern: 'plain words'
            - pattern: '{pattern}'
              regex: true
              message: Not allowed.
        """
    )


def _refusal(text: str, source: str = "brand.yaml") -> BrandError:
    with pytest.raises(BrandError) as info:
        parse_brand(text, source=source)
    return info.value


# --- refused at load, with the place and the construct ---------------------------------


def test_nested_quantifier_in_a_forbidden_claim_is_refused_at_its_line() -> None:
    err = _refusal(_forbidden("(a+)+b"), "brands/bad.yaml")
    assert err.code == "brand.unsafe-pattern"
    assert (err.file, err.line) == ("brands/bad.yaml", 9)
    assert "nested quantifier `(a+)+`" in err.message
    assert "exponential" in err.message
    assert "a+b" in err.hint


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        ("(a+)+b", "nested quantifier `(a+)+`"),
        ("(a*)*b", "nested quantifier `(a*)*`"),
        (r"(\w+\s?)+$", "nested quantifier"),
        ("(?:a*b?)*c", "nested quantifier"),
        ("(a|a)*b", "repeated alternatives `(a|a)*`"),
        ("(?:cure|cures?)+x", "repeated alternatives"),
        (r"\d+\d+x", r"adjacent repeats `\d+\d+`"),
        (r"\w+\s*\w+!", "adjacent repeats"),
        (".*cure.*", "adjacent repeats"),
        (r"(a)\1", "backreference"),
    ],
)
def test_unsafe_patterns_are_refused_naming_the_construct(pattern: str, construct: str) -> None:
    err = _refusal(_forbidden(pattern))
    assert err.code == "brand.unsafe-pattern", str(err)
    assert construct in err.message, err.message
    assert err.line == 9 and err.hint


def test_banned_phrase_regex_is_checked() -> None:
    text = _BASE + textwrap.dedent(
        """\
        voice:
          banned:
            - phrase: '(x+x+)+y'
              regex: true
        """
    )
    err = _refusal(text)
    assert (err.code, err.line) == ("brand.unsafe-pattern", 8)
    assert "nested quantifier" in err.message


def test_disclaimer_when_regex_is_checked() -> None:
    text = _BASE + textwrap.dedent(
        """\
        disclaimers:
          - name: pregnancy
            text: Ask your doctor.
            when: ['pregnan\\w*', '(?:pregnant|pregnancy)+\\w*']
            when_regex: true
        """
    )
    err = _refusal(text)
    assert err.code == "brand.unsafe-pattern", str(err)
    assert err.line == 9


def test_custom_pack_pattern_is_checked_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        textwrap.dedent(
            """\
            name: pack
            description: A pack with one bad pattern.
            families:
              bad:
                description: Bad.
                message: no.
                patterns:
                  - 'fine{gap:2}words'
                  - '(?:\\w+\\s*)+good'
            """
        ),
        encoding="utf-8",
    )
    brand = tmp_path / "brand.yaml"
    brand.write_text(_BASE + "claims:\n  packs: {custom: pack.yaml}\n", encoding="utf-8")
    with pytest.raises(BrandError) as info:
        load_brand(brand)
    err = info.value
    assert err.code == "brand.unsafe-pattern", str(err)
    assert (err.file, err.line) == (str(tmp_path / "pack.yaml"), 9)


# --- everything that worked still works ----------------------------------------------


@pytest.mark.parametrize("name", ["acme", "northbank", "vitalis"])
def test_shipped_brands_load(name: str) -> None:
    assert load_brand(BRANDS / f"{name}.yaml").name


def test_test_packs_load() -> None:
    assert load_brand(PACKS / "spirits.yaml").name


@pytest.mark.parametrize(
    "pattern",
    [
        r"eco[\s-]?friendly",
        r"free\s+gift(?!\s+with\s+purchase)",
        r"risk[\s-]free",
        r"100%\s+guaranteed|guaranteed\s+to\s+(?:last|fit|keep|work|stay)",
        r"pre-?approved",
        r"fixed(?:\s+rate)?\s+for\s+life",
        r"\bsafe\s+for\s+(?:everyone|all|kids|children|pregnan\w*)",
        r"(?:\s+\w+){0,3}\s+cure",
        r"(\d{3}-){2}\d{4}",
        r"(?:a|ab)c",
        r"[$€£]\s?\d+(?:[.,]\d+)*",
        r"(?:prevents?|cures?){gap:3}hangovers?",
    ],
)
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    assert parse_brand(_forbidden(pattern))


def test_a_global_flag_is_a_located_error_not_a_crash() -> None:
    err = _refusal(_forbidden("(?i)fda approved"))
    assert err.code == "brand.schema" and err.line == 9
    assert "global flags" in err.message


def test_a_capped_repeat_still_matches_long_words() -> None:
    from conductor.brand import check_copy

    b = parse_brand(_forbidden(r"super\w*"))
    v = check_copy(b, "sms", "It is super" + "duper" * 15 + " good.")
    assert any(x.rule == "claims.forbidden" for x in v.violations)


# --- the check itself stays fast -------------------------------------------------------

_NEST_BRAND = _forbidden("(a+)+b")
_CLI = [sys.executable, "-m", "conductor"]


def _run(code: str, timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=Path.cwd(),
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the check ran past {timeout} s")


def test_issue_example_no_longer_hangs(tmp_path: Path) -> None:
    """`(a+)+b` and a 30-character copy: refused (used to run past 60 s)."""
    brand = tmp_path / "nest.yaml"
    brand.write_text(_NEST_BRAND, encoding="utf-8")
    done = subprocess.run(
        [*_CLI, "check-copy", "--brand", str(brand), "--channel", "sms", "a" * 30],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path.cwd(),
    )
    assert done.returncode == 2, done.stderr
    assert f"{brand}:9:" in done.stderr and "brand.unsafe-pattern" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_repeat_is_capped_so_long_copy_is_linear() -> None:
    """``[a-z ]*x`` is unambiguous, but tried at every word start of a long text it
    would read to the end each time (quadratic); capped, 400,000 characters are quick."""
    code = textwrap.dedent(
        f"""
        from conductor.brand import check_copy, parse_brand
        b = parse_brand({_forbidden("[a-z ]*zz")!r})
        check_copy(b, "sms", "ab " * 130_000 + "!")
        print("done")
        """
    )
    done = _run(code, timeout=120)
    assert done.stdout.strip() == "done", done.stderr[-2000:]


# Random patterns over a small alphabet: whatever the load accepts must scan adversarial
# 5,000-character texts quickly. One worker process runs all of them (each example is a
# line on its stdin); a pattern that hangs it fails the test when the worker goes quiet.
_WORKER = textwrap.dedent(
    r"""
    import json, sys, time
    from conductor.brand._family import _Family, _Field, _entry
    from conductor.brand._text import _lower
    for line in sys.stdin:
        src, texts = json.loads(line)
        fam = _Family([_entry(src, None, regex=True)])
        start = time.perf_counter()
        for t in texts:
            fam.finditer(_Field("f", t, t, _lower(t)))
        print(json.dumps(time.perf_counter() - start), flush=True)
    """
)


@pytest.fixture(scope="module")
def worker() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path.cwd(),
    )
    yield proc
    proc.kill()
    proc.wait()


_ATOMS = ["a", "b", " ", "-", r"\w", r"\s", r"\d", ".", "[ab]", "[^b]", r"\W", "1"]


def _patterns() -> st.SearchStrategy[str]:
    atom = st.sampled_from(_ATOMS)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        quant = st.sampled_from(["", "+", "*", "?", "{2}", "{1,3}", "{2,}", "+?"])
        return st.one_of(
            st.tuples(inner, quant).map("".join),
            st.lists(inner, min_size=2, max_size=3).map("".join),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(?:" + "|".join(xs) + ")"),
            st.tuples(inner, quant).map(lambda t: f"(?:{t[0]}){t[1]}"),
        )

    return st.recursive(atom, extend, max_leaves=8)


def _adversarial(src: str) -> list[str]:
    chars = sorted({c for c in re.sub(r"\\.", "", src) if c.isalnum() or c in " -"} | {"a"})
    texts = []
    for c in chars:
        texts.append(c * 5000)
        texts.append((c + " ") * 2500)
    texts.append("".join(chars) * (5000 // len(chars)))
    texts.append("a1 -b" * 1000)
    return [t + "!" for t in texts]


def _accepted(src: str) -> bool:
    try:
        parse_brand(_forbidden(src.replace("'", "''")))
    except BrandError:
        return False
    return True


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(_patterns())
def test_accepted_patterns_scan_adversarial_text_quickly(
    worker: subprocess.Popen[str], src: str
) -> None:
    if not _accepted(src):
        return
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(json.dumps([src, _adversarial(src)]) + "\n")
    worker.stdin.flush()
    ready, _, _ = select.select([worker.stdout], [], [], 30)
    assert ready, f"pattern {src!r} ran past 30 s on a 5,000-character text"
    elapsed = json.loads(worker.stdout.readline())
    # The bound is generous (a loaded 2-core machine); the real times are milliseconds.
    assert elapsed < 2.0, f"pattern {src!r} took {elapsed:.2f} s"


def test_gap_words_cannot_be_split_exponentially() -> None:
    """``{gap:N}`` ("up to N words") split "a-a-a-…" into words every possible way: a
    411-character copy took 25 s on the vitalis brand (health pack, ``{gap:4}``)."""
    code = textwrap.dedent(
        f"""
        from conductor.brand import check_copy, load_brand
        for name, lead in (("vitalis", "Supports "), ("northbank", "We guarantee ")):
            b = load_brand({str(BRANDS)!r} + "/" + name + ".yaml")
            check_copy(b, "email", lead + "a-" * 2000 + "x.")
        print("done")
        """
    )
    done = _run(code, timeout=60)
    assert done.stdout.strip() == "done", done.stderr[-2000:]


def test_gap_still_counts_hyphenated_and_apostrophe_words_as_one() -> None:
    from conductor.brand._pack_file import expand_gaps

    rx = re.compile(expand_gaps("cure{gap:2}arthritis"))
    assert rx.search("cure your dog's arthritis")
    assert rx.search("cure well-known arthritis")
    assert rx.search("cure - arthritis")
    assert not rx.search("cure your old dog's arthritis")
    assert not rx.search("cure it. arthritis")
