"""A strategy as the domain knows it: a named list of rules with their parameters, and the status
of its latest run (the risk platform's GET /strategy)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Strategy:
    """A named set of rules with their parameters; ``status`` is its latest run's (``NotRun`` before
    any), with ``percentage_complete``."""

    id: str
    name: str
    rules: list[dict]
    created_at: str
    status: str
    percentage_complete: float
    run_id: str | None

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "rules": self.rules, "created_at": self.created_at,
                "status": self.status, "percentage_complete": self.percentage_complete, "run_id": self.run_id}
