"""Test hook: every SQLite connection this process opens gets a page budget, so the
store fills up like a full disk after CONDUCTOR_TEST_SPARE_PAGES more pages.

Listed in CONDUCTOR_PLUGINS by tests/test_store_resources.py only.
"""

from __future__ import annotations

import os
import sqlite3

_connect = sqlite3.connect
_SPARE = int(os.environ.get("CONDUCTOR_TEST_SPARE_PAGES", "0"))


def _limited(*args, **kwargs):  # type: ignore[no-untyped-def]
    con = _connect(*args, **kwargs)
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.execute(f"PRAGMA max_page_count = {max(pages, 1) + _SPARE}")
    return con


sqlite3.connect = _limited  # type: ignore[assignment]
