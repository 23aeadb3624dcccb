"""A strategy as the domain knows it: a named list of rules in the risk platform's form (``rule_id``,
``parameters`` as ``{key, value}``, ``constraints``), and the status of its latest run (GET /strategy,
``risk-platform-api.txt`` lines 992-1046)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Strategy:
    """A stored strategy: ``key`` (its internal id), ``strategy_id`` (the whole number the document's
    requests name it by), ``name``, ``rules``; ``status`` is its latest run's (``NotRun`` before any),
    with ``percentage_complete``, ``run_id`` and ``last_updated`` (when the run last moved)."""

    key: str
    strategy_id: int
    name: str
    rules: list[dict]
    created_at: str
    status: str
    percentage_complete: float
    run_id: str | None
    last_updated: str | None = None
