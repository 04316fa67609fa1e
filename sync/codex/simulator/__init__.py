"""A stand-in for the Codex Enterprise Analytics API, served over loopback HTTP.

Used by `codexbot demo`, the tests and the benchmarks. Everything is derived from a seed,
so the same seed always yields the same org and the same pages, and rows are computed on
demand: a 10,000-person, 90-day history is never held in memory.
"""

from __future__ import annotations

from sync.codex.simulator.org import (
    CodexAccount,
    Person,
    SimulatedOrg,
    every_day_accounts,
    generate_org,
    write_org_csv,
)
from sync.codex.simulator.server import DENSITIES, DENSITY_FULL, DENSITY_REALISTIC, Simulator
from sync.codex.simulator.usage import iter_rows, usage_row

__all__ = [
    "DENSITIES",
    "DENSITY_FULL",
    "DENSITY_REALISTIC",
    "CodexAccount",
    "Person",
    "SimulatedOrg",
    "Simulator",
    "every_day_accounts",
    "generate_org",
    "iter_rows",
    "usage_row",
    "write_org_csv",
]
