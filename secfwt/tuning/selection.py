"""Model selection of a tuning run: which checkpoint it reports (no torch: the report uses it too)."""

from __future__ import annotations


def select(trajectory: list[dict], budget: float | None = None) -> dict:
    """The checkpoint a run reports, of those within ``budget`` units: the best dev accuracy, the
    later one on a tie.  Model selection on dev, as LM-BFF and BBT do: the test split never chooses."""
    within = [row for row in trajectory if budget is None or row["units"] <= budget]
    return max(within, key=lambda row: (row["dev_acc"], row["units"]))
