"""The vocabulary every part of the demo generator shares.

The retailer's channels, personalization actions and funnel event types (re-exported by
:mod:`conductor.demo._data`), the numpy array aliases, the microsecond clock all
timestamps are drawn on, and the one way the generator writes Parquet.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CHANNELS: tuple[str, ...] = ("paid_search", "social", "email", "display", "affiliate")
ACTIONS: tuple[str, ...] = (
    "winback_discount_email",
    "loyalty_points_email",
    "new_arrivals_push",
    "free_shipping_sms",
    "no_offer",
)
_NO_ACTION = "no_offer"
EVENT_TYPES: tuple[str, ...] = ("touch", "visit", "add_to_cart", "checkout", "conversion")

_US_PER_DAY = 86_400_000_000


def _midnight_us(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * _US_PER_DAY


def _write_parquet(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path, compression="zstd")
