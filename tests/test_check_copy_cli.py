"""``conductor check-copy`` through the real command, in subprocesses (issue 17, item 8).

The copy comes from the argument, a file (``--file PATH``) or standard input (``-`` as
the text, or ``--file -``); ``--json`` prints the verdict as before. Exit codes: 0 may
be sent, 1 may not, 2 bad input (a missing, unreadable or non-UTF-8 copy file, usage),
70 an internal error -- never 1, which a script reads as "may not be sent". Output the
terminal cannot encode (``PYTHONIOENCODING=ascii``) is escaped, not a crash.

Subprocesses start in the current folder (no PYTHONPATH), so the tests can be pointed
at another checkout's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "pipelines" / "brands" / "acme.yaml"
CLI = [sys.executable, "-m", "conductor", "check-copy", "--brand", str(ACME)]

# Passes on the push channel; fails on email (no footer, no unsubscribe link).
FANCY = "Great boots ✓ “now” — built for ‘wet’ trails 🎉"
RISKY = "Risk-free boots ✓ “guaranteed” 🎉"


def _run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        cwd=Path.cwd(),
        env={**os.environ, **(env or {})},
    )


def _clean(r: subprocess.CompletedProcess[bytes]) -> str:
    """stderr, after checking that it carries no traceback or internal error."""
    err = r.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err, err
    return err


def _verdict(r: subprocess.CompletedProcess[bytes]) -> dict[str, object]:
    _clean(r)
    data = json.loads(r.stdout)
    assert isinstance(data, dict)
    return data


# --- where the copy comes from ---------------------------------------------------------


def test_file_and_stdin_give_the_same_verdict_as_the_argument(tmp_path: Path) -> None:
    copy = tmp_path / "copy.txt"
    copy.write_text(RISKY, encoding="utf-8")
    by_arg = _run("--channel", "email", "--json", RISKY)
    assert by_arg.returncode == 1
    expected = _verdict(by_arg)
    assert expected["passed"] is False and expected["action"]
    for args, stdin in (
        (("--file", str(copy)), None),
        (("--file", "-"), RISKY.encode()),
        (("-",), RISKY.encode()),
    ):
        r = _run("--channel", "email", "--json", *args, stdin=stdin)
        assert r.returncode == 1, (args, r.stderr)
        assert _verdict(r) == expected, args


def test_passing_copy_from_stdin_exits_0() -> None:
    r = _run("--channel", "push", "-", stdin=FANCY.encode())
    assert r.returncode == 0, r.stderr
    assert "on brand" in r.stdout.decode()


def test_crlf_and_bom_in_a_file_are_read_as_text(tmp_path: Path) -> None:
    copy = tmp_path / "copy.txt"
    copy.write_bytes(b"\xef\xbb\xbf" + FANCY.encode() + b"\r\nSecond line.\r\n")
    r = _run("--channel", "push", "--file", str(copy))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_one_megabyte_copy_is_checked(tmp_path: Path, how: str) -> None:
    line = "Our trail boots keep your feet dry on long muddy hikes with friends. "
    tail = " Risk-free boots."  # found only if the whole megabyte was read
    text = (line * (1_000_000 // len(line) + 1))[: 1_000_000 - len(tail)] + tail
    copy = tmp_path / "big.txt"
    copy.write_text(text, encoding="utf-8")
    args = ("--file", str(copy)) if how == "file" else ("-",)
    r = _run(
        "--channel",
        "push",
        "--json",
        *args,
        stdin=text.encode() if how == "stdin" else None,
        timeout=600,
    )
    assert r.returncode == 1, r.stderr[-2000:]
    rules = [v["rule"] for v in _verdict(r)["violations"]]  # type: ignore[attr-defined]
    assert "claims.forbidden" in rules


# --- bad input: one clear error, exit 2 -------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    r = _run("--channel", "email", "--file", str(tmp_path / "nope.txt"))
    assert r.returncode == 2
    err = _clean(r)
    assert "copy.not-found" in err and "nope.txt" in err


def test_non_utf8_file(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    r = _run("--channel", "email", "--file", str(bad))
    assert r.returncode == 2
    err = _clean(r)
    assert "copy.not-utf8" in err and "UTF-8" in err


def test_non_utf8_stdin() -> None:
    r = _run("--channel", "email", "-", stdin=b"\xff\xfe caf\xe9")
    assert r.returncode == 2
    assert "copy.not-utf8" in _clean(r)


def test_a_folder_is_not_a_copy_file(tmp_path: Path) -> None:
    r = _run("--channel", "email", "--file", str(tmp_path))
    assert r.returncode == 2
    assert "copy.unreadable" in _clean(r)


def test_a_copy_over_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("boots " * 200, encoding="utf-8")
    r = _run("--channel", "push", "--file", str(big), env={"CONDUCTOR_MAX_FILE_BYTES": "100"})
    assert r.returncode == 2
    assert "copy.too-large" in _clean(r)


@pytest.mark.parametrize(
    "args", [(), ("--file", "x.txt", "some copy")], ids=["no copy", "text and file"]
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    r = _run("--channel", "email", *args)
    assert r.returncode == 2
    assert "--file" in _clean(r)


# --- output the terminal cannot encode ---------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "code"), [("push", 0), ("email", 1)], ids=["on brand", "findings"]
)
def test_ascii_terminal_does_not_crash(channel: str, code: int) -> None:
    r = _run("--channel", channel, FANCY, env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == code, r.stderr
    _clean(r)
    assert b"UnicodeEncodeError" not in r.stdout + r.stderr
    r.stdout.decode("ascii")  # nothing but ASCII reached the terminal


def test_ascii_terminal_reads_utf8_stdin_and_escapes_the_excerpt() -> None:
    r = _run("--channel", "email", "-", stdin=RISKY.encode(), env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 1, r.stderr
    _clean(r)
    out = r.stdout.decode("ascii")
    assert "claims.forbidden" in out and "\\u201c" in out  # the curly quote, escaped


def test_ascii_terminal_json() -> None:
    r = _run("--channel", "email", "--json", RISKY, env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 1
    assert _verdict(r)["passed"] is False


# --- an internal error is not "may not be sent" -------------------------------------------


def test_internal_error_exits_70(tmp_path: Path) -> None:
    (tmp_path / "boom_plugin.py").write_text(
        "import conductor.brand\n"
        "def _boom(*a, **k):\n"
        "    raise RuntimeError('boom')\n"
        "conductor.brand.check_copy = _boom\n",
        encoding="utf-8",
    )
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    r = _run(
        "--channel",
        "push",
        "fine copy",
        env={"CONDUCTOR_PLUGINS": "boom_plugin", "PYTHONPATH": path, "HOME": str(tmp_path)},
    )
    err = r.stderr.decode()
    assert r.returncode == 70, err
    assert "internal error" in err and "RuntimeError: boom" in err
    assert "Traceback" not in err
