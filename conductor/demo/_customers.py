"""The demo retailer's customers: ids, features and consent flags, and their table.

Drawn from independent, plainly stated distributions (age, tenure, order value, country,
loyalty, gender, a sensitive health interest). ``suppressed`` is drawn by the caller on
its own random stream, so adding it left every other draw unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

# Customers who asked not to be contacted (the brand's `suppressed` exclusion), whatever
# their consent flag says.
_SUPPRESSED_SHARE = 0.02
_COUNTRIES = ("GB", "DE", "FR", "NL", "ES", "IE")
_COUNTRY_P = (0.34, 0.22, 0.16, 0.10, 0.10, 0.08)
_GENDERS = ("female", "male", "non_binary")
_GENDER_P = (0.52, 0.45, 0.03)
_FIRST_NAMES = (
    "Alex", "Sam", "Maria", "Jonas", "Chloe", "Luca", "Emma", "Noah", "Sofia", "Liam",
    "Anna", "Finn", "Julia", "Hugo", "Mia", "Oscar", "Lea", "Ruben", "Ines", "Sean",
)  # fmt: skip


def _customer_ids(n: int) -> pa.Array:
    width = max(7, len(str(n - 1)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise("C", digits, "")


def _customers(rng: np.random.Generator, n: int) -> dict[str, npt.NDArray[np.generic]]:
    age = np.clip(np.round(rng.normal(41.0, 14.0, n)), 16, 88).astype(np.int32)
    tenure = np.maximum(1, np.round(rng.exponential(700.0, n))).astype(np.int32)
    aov = np.round(np.exp(rng.normal(4.3, 0.45, n)), 2)
    # Interest in health products rises with age; it is sensitive, so it never enters the
    # reward model: any fairness gap an agent shows comes through age, not through it.
    health = rng.random(n) < 0.08 + 0.004 * (age - 16)
    return {
        "first_name": rng.integers(0, len(_FIRST_NAMES), n).astype(np.int32),
        "consent": rng.random(n) < 0.85,
        "age": age,
        "country": rng.choice(len(_COUNTRIES), n, p=_COUNTRY_P).astype(np.int32),
        "tenure": tenure,
        "aov": aov,
        "loyalty": rng.random(n) < 0.15 + 0.2 * (tenure > 730),
        "gender": rng.choice(len(_GENDERS), n, p=_GENDER_P).astype(np.int32),
        "health": health,
    }


def _customers_table(ids: pa.Array, c: Mapping[str, npt.NDArray[np.generic]]) -> pa.Table:
    def pick(values: Sequence[str], idx: npt.NDArray[np.generic]) -> pa.Array:
        return pa.array(values, pa.string()).take(pa.array(idx))

    return pa.table(
        {
            "customer_id": ids,
            "first_name": pick(_FIRST_NAMES, c["first_name"]),
            "consent_marketing": pa.array(c["consent"]),
            "age": pa.array(c["age"]),
            "country": pick(_COUNTRIES, c["country"]),
            "tenure_days": pa.array(c["tenure"]),
            "avg_order_value": pa.array(c["aov"]),
            "loyalty_member": pa.array(c["loyalty"]),
            "gender": pick(_GENDERS, c["gender"]),
            "health_interest": pa.array(c["health"]),
            "suppressed": pa.array(c["suppressed"]),
        }
    )
