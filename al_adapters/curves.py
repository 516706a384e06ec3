"""Learning curves: metric against the number of labels, per strategy and run.

Active learning pays off when a strategy reaches a given accuracy with fewer labels
than random sampling. :class:`LearningCurves` records the points of a loop, then
reports the area under each curve, the labels needed to reach a target, and plots
the mean and spread over runs (seeds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LearningCurves"]


class LearningCurves:
    """Points ``(labels so far, metric)`` for any number of strategies and runs.

    Examples
    --------
    >>> from al_adapters.curves import LearningCurves
    >>> curves = LearningCurves()
    >>> for run, values in enumerate([[0.5, 0.7, 0.9], [0.4, 0.8, 0.9]]):
    ...     for n_labels, value in zip([10, 20, 30], values):
    ...         curves.record(n_labels, value, strategy="entropy", run=run)
    >>> curves.labels_to_target("entropy", 0.75)
    array([30, 20])
    >>> curves.area_under_curve("entropy")
    array([0.7  , 0.725])
    """

    def __init__(self) -> None:
        self._points: dict[tuple[str, Any], list[tuple[float, float]]] = {}

    def record(
        self, n_labels: int, value: float, strategy: str = "default", run: Any = 0
    ) -> None:
        """Add one point to the curve of ``strategy`` in ``run``.

        Parameters
        ----------
        n_labels : int
            Number of labelled rows when the metric was measured.
        value : float
            The metric, such as test accuracy.
        strategy : str, default="default"
            Name of the strategy (one curve family per strategy).
        run : hashable, default=0
            Which run (seed) of the strategy.
        """
        points = self._points.setdefault((strategy, run), [])
        if points and n_labels <= points[-1][0]:
            raise ValueError(
                f"n_labels must grow within a run: {n_labels} after {points[-1][0]} "
                f"for strategy {strategy!r}, run {run!r}"
            )
        points.append((float(n_labels), float(value)))

    @property
    def strategies(self) -> list[str]:
        """Strategy names, in the order they were first recorded."""
        return list(dict.fromkeys(strategy for strategy, _ in self._points))

    def runs(self, strategy: str) -> list[Any]:
        """Return the runs recorded for ``strategy``, in recording order."""
        runs = [run for name, run in self._points if name == strategy]
        if not runs:
            raise KeyError(f"no curve recorded for strategy {strategy!r}")
        return runs

    def curve(self, strategy: str, run: Any = 0) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(n_labels, values)`` of one run."""
        if (strategy, run) not in self._points:
            raise KeyError(f"no curve recorded for strategy {strategy!r}, run {run!r}")
        n_labels, values = np.array(self._points[strategy, run]).T
        return n_labels.astype(int), values

    def mean_curve(self, strategy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(n_labels, mean, std)`` over the runs of ``strategy``.

        Runs recorded at different label counts are interpolated linearly onto the
        label counts common to their ranges.
        """
        curves = [self.curve(strategy, run) for run in self.runs(strategy)]
        grid = np.unique(np.concatenate([n for n, _ in curves]))
        low = max(n[0] for n, _ in curves)
        high = min(n[-1] for n, _ in curves)
        grid = grid[(grid >= low) & (grid <= high)]
        values = np.array([np.interp(grid, n, v) for n, v in curves])
        return grid, values.mean(axis=0), values.std(axis=0)

    def area_under_curve(self, strategy: str) -> np.ndarray:
        """Return each run's normalised area under the learning curve.

        The area (trapezoid rule) is divided by the range of label counts, so it is
        the metric averaged over the labelling budget: 1.0 for a perfect curve.

        Returns
        -------
        areas : ndarray of shape (n_runs,)
            One value per run, in :meth:`runs` order.
        """
        areas = []
        for run in self.runs(strategy):
            n_labels, values = self.curve(strategy, run)
            if len(n_labels) == 1:
                areas.append(values[0])
                continue
            widths = np.diff(n_labels)
            area = np.sum(widths * (values[1:] + values[:-1]) / 2)
            areas.append(area / (n_labels[-1] - n_labels[0]))
        return np.array(areas)

    def labels_to_target(self, strategy: str, target: float) -> np.ndarray:
        """Return, per run, the first label count where the metric reached ``target``.

        Returns
        -------
        n_labels : ndarray of shape (n_runs,)
            Label counts; -1 for a run that never reached the target.
        """
        reached = []
        for run in self.runs(strategy):
            n_labels, values = self.curve(strategy, run)
            hits = n_labels[values >= target]
            reached.append(hits[0] if hits.size else -1)
        return np.array(reached)

    def summary(self, target: float | None = None) -> str:
        """Return a plain-text table: area under the curve and labels to ``target``."""
        header = ["strategy", "runs", "AULC mean", "AULC std"]
        if target is not None:
            header.append(f"labels to {target:g}")
        rows = [header]
        for strategy in self.strategies:
            areas = self.area_under_curve(strategy)
            row = [
                strategy,
                str(len(areas)),
                f"{areas.mean():.4f}",
                f"{areas.std():.4f}",
            ]
            if target is not None:
                hits = self.labels_to_target(strategy, target)
                done = hits[hits >= 0]
                text = f"{np.median(done):g} (median)" if done.size else "not reached"
                if 0 < done.size < hits.size:
                    text += f", {hits.size - done.size} runs never"
                row.append(text)
            rows.append(row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        return "\n".join(
            "  ".join(
                cell.ljust(w) for cell, w in zip(row, widths, strict=True)
            ).rstrip()
            for row in rows
        )

    def plot(
        self, ax: Any = None, *, target: float | None = None, ylabel: str = "metric"
    ) -> Any:
        """Plot each strategy's mean curve with a band of one standard deviation.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None uses the current axes.
        target : float, default=None
            Draw a horizontal line at this value.
        ylabel : str, default="metric"
            Label of the y axis.

        Returns
        -------
        ax : matplotlib Axes
            The axes drawn on.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                'plotting needs matplotlib: pip install "al-adapters[plot]"'
            ) from exc
        ax = plt.gca() if ax is None else ax
        for strategy in self.strategies:
            n_labels, mean, std = self.mean_curve(strategy)
            (line,) = ax.plot(n_labels, mean, label=strategy)
            ax.fill_between(
                n_labels, mean - std, mean + std, alpha=0.2, color=line.get_color()
            )
        if target is not None:
            ax.axhline(target, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("labelled rows")
        ax.set_ylabel(ylabel)
        ax.legend()
        return ax
