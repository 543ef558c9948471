"""Lift tests: measured effects of spend changes that calibrate the response curves.

A marketing-mix model fitted on history alone cannot always tell a channel's average
return from the baseline: when a channel's spend never goes near zero, a steep curve that
flattens early and a straight line can fit the weekly KPI equally well (see
``benchmarks/README.md``). A geo or flighting experiment measures the effect of a spend
change directly; each test adds one term to the fit's objective, as in PyMC-Marketing's
lift-test calibration:

    ``(beta * (h(x + delta_x) - h(x)) - delta_y) / sigma``

where ``x`` is the channel's weekly spend before the test, ``delta_x`` the change in weekly
spend during it, ``delta_y`` the measured change in the weekly KPI and ``sigma`` that
measurement's standard error. Without a duration the curve is read at steady state (a test
long enough for the carry-over to settle, or a lift that includes it).

The `lift_tests` source has one row per test: ``channel, spend, delta_spend, delta_kpi,
sigma`` (weekly amounts, in the KPI's and the spend's units) and optionally ``weeks``, how
long the test ran: the measured lift is then the average over those weeks while the
carry-over builds up, which the model follows through the channel's adstock.
"""

from __future__ import annotations

import difflib
from typing import Any

from agents.budget._data import channel_matcher, norm_channel
from agents.budget._model import LiftTest
from conductor import DataError
from conductor.data import finite_number, quote_ident

SOURCE = "lift_tests"
_COLUMNS = ("channel", "spend", "delta_spend", "delta_kpi", "sigma")
_OPTIONAL = ("weeks",)


def load_lift_tests(con: Any, channels: list[str]) -> list[LiftTest]:
    """Read and check the `lift_tests` source against the history's channels.

    Args:
        con: A DuckDB cursor with the `lift_tests` view.
        channels: The history's channel names (normalised).

    Returns:
        The tests, in file order.

    Raises:
        DataError: A missing column, a value that is not a number, a negative spend, a
            non-positive sigma, a zero spend change or an unknown channel.
    """
    desc = con.execute(f"DESCRIBE {quote_ident(SOURCE)}").fetchall()
    have = {str(r[0]).lower(): str(r[0]) for r in desc}
    for col in _COLUMNS:
        if col not in have:
            raise DataError(
                "required column is missing",
                source=SOURCE, column=col, code="data.missing-column",
                hint="lift_tests needs: " + ", ".join(_COLUMNS) + "; the table has: "
                + ", ".join(str(r[0]) for r in desc),
            )  # fmt: skip
    cols = [*_COLUMNS, *(c for c in _OPTIONAL if c in have)]
    ch, *nums = (quote_ident(have[c]) for c in cols)
    rows = con.execute(
        f"SELECT CAST({ch} AS VARCHAR), "
        + ", ".join(f"{finite_number(n)}, CAST({n} AS VARCHAR)" for n in nums)
        + f" FROM {quote_ident(SOURCE)}"
    ).fetchall()
    if not rows:
        raise DataError(
            "the table has no rows", source=SOURCE, code="data.empty",
            hint="give one row per test, or leave the lift_tests source out",
        )  # fmt: skip
    match = channel_matcher(channels)
    index = {c: i for i, c in enumerate(channels)}
    tests = []
    for line, row in enumerate(rows, start=1):
        name = row[0]
        values: dict[str, float] = {}
        for j, col in enumerate(cols[1:]):
            value, raw = row[1 + 2 * j], row[2 + 2 * j]
            if value is None and col in _OPTIONAL and raw is None:
                continue  # a blank duration: read at steady state
            if value is None:
                raise DataError(
                    f"row {line}: {col} {raw!r} is missing or not a finite number",
                    source=SOURCE, column=col, code="data.bad-value",
                    hint="weekly amounts as plain numbers, e.g. 12500",
                )  # fmt: skip
            values[col] = float(value)
        _check_row(line, values)
        if name is None or (found := match(name)) is None:
            sugg = difflib.get_close_matches(norm_channel(name or ""), channels, n=1)
            raise DataError(
                f"row {line}: channel {name!r} is not in the spend history"
                + (f" (did you mean {sugg[0]!r}?)" if sugg else ""),
                source=SOURCE, column="channel", code="data.unknown-channel",
                hint="the spend history has: " + ", ".join(channels),
            )  # fmt: skip
        tests.append(LiftTest(channel=index[found], **values))
    return tests


def _check_row(line: int, v: dict[str, float]) -> None:
    problems = []
    if v["spend"] < 0:
        problems.append(("spend", "the spend before the test must be >= 0"))
    if v["spend"] + v["delta_spend"] < 0:
        problems.append(("delta_spend", "spend + delta_spend (the spend during it) is negative"))
    if v["delta_spend"] == 0:
        problems.append(("delta_spend", "a test must change the spend"))
    if not v["sigma"] > 0:
        problems.append(("sigma", "the standard error must be > 0"))
    if "weeks" in v and not 1 <= v["weeks"] <= 520:
        problems.append(
            ("weeks", "a test runs for 1 to 520 weeks (leave it blank for steady state)")
        )
    if problems:
        col, why = problems[0]
        raise DataError(
            f"row {line}: {why}", source=SOURCE, column=col, code="data.bad-lift-test",
            hint="weekly spend before the test, its weekly change, the measured weekly KPI "
            "change and that measurement's standard error",
        )  # fmt: skip
