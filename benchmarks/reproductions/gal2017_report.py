"""Tables, files and checks of the Gal et al. (2017) reproduction."""

import csv
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np

from al_adapters import LearningCurves

#: Table 1 of Gal, Islam & Ghahramani (2017): acquired images to 10 % / 5 % test
#: error (secondary sources; see docs/reproducing.md).
PAPER = {
    "bald": (145, 335),
    "varratios": (120, 295),
    "maxent": (165, 355),
    "meanstd": (230, 695),
    "random": (255, 835),
    "batchbald": (None, None),  # not in this table: see kirsch2019.py
}
TARGETS = (0.90, 0.95)
NOT_REACHED = "-"


def curves_of(records, display):
    """Return a LearningCurves of test accuracy against acquired labels."""
    curves = LearningCurves()
    for record in records:
        for n_labels, accuracy in zip(
            record["acquired"], record["accuracy"], strict=True
        ):
            curves.record(
                n_labels, accuracy, display[record["strategy"]], record["seed"]
            )
    return curves


def _mean_or_none(values):
    """Mean of labels-to-target counts; None when a run never got there."""
    if not values or any(value is None for value in values):
        return None
    return statistics.mean(values)


def summarize(records, strategies, args):
    """Return the per-strategy results of ``records`` as a JSON-able dict."""
    display = {name: strategies[name][0] for name in strategies}
    curves = curves_of(records, display)
    results = {}
    for name in dict.fromkeys(record["strategy"] for record in records):
        mine = [record for record in records if record["strategy"] == name]
        label = display[name]
        to_target = {
            target: [
                None if hit < 0 else int(hit)
                for hit in curves.labels_to_target(label, target)
            ]
            for target in TARGETS
        }
        results[name] = {
            "display": label,
            "seeds": [record["seed"] for record in mine],
            "labels_to_90": to_target[0.90],
            "labels_to_95": to_target[0.95],
            "mean_labels_to_90": _mean_or_none(to_target[0.90]),
            "mean_labels_to_95": _mean_or_none(to_target[0.95]),
            "paper": PAPER[name],
            "alc": curves.area_under_curve(label).tolist(),
            "final_accuracy": [record["accuracy"][-1] for record in mine],
            "fit_s_median": statistics.median(
                s for record in mine for s in record["fit_s"]
            ),
            "query_s_median": statistics.median(
                s for record in mine for s in record["query_s"]
            ),
            "eval_s_median": statistics.median(
                s for record in mine for s in record["eval_s"]
            ),
            "run_s": [record["wall_s"] for record in mine],
            "load": [record.get("load") for record in mine],
            "query_scores_constant_rounds": sum(
                int(np.ptp(scores) == 0)
                for record in mine
                for scores in record["query_scores"]
            ),
        }
    return {
        "settings": records[0]["settings"],
        "seeds": args.seeds,
        "threads": args.threads,
        "jobs": args.jobs,
        "device": args.device,
        "results": results,
    }


def _counts(values):
    return " ".join(NOT_REACHED if value is None else str(value) for value in values)


def _mean(value):
    return NOT_REACHED if value is None else f"{value:.0f}"


def _paper(value):
    return NOT_REACHED if value is None else str(value)


def print_summary(summary):
    settings = summary["settings"]
    mode = "warm start on new labels" if settings["only_new"] else "fresh model"
    test = settings["test_subset"] or 10000
    print(
        f"\nMNIST, {settings['framework']}, {mode} each round; seeds "
        f"{summary['seeds']}; {settings['budget']} labels acquired, "
        f"{settings['acquisition_size']} per round; T = {settings['mc_samples']}; "
        f"{settings['pool_subset']} images scored per round; test accuracy on "
        f"{test} images. Acquired labels to reach the target ('-': not within "
        "the budget):"
    )
    header = [
        "strategy",
        "to 90% per seed",
        "mean",
        "paper",
        "to 95% per seed",
        "mean",
        "paper",
        "final accuracy",
        "ALC",
    ]
    rows = []
    for result in summary["results"].values():
        rows.append(
            [
                result["display"],
                _counts(result["labels_to_90"]),
                _mean(result["mean_labels_to_90"]),
                _paper(result["paper"][0]),
                _counts(result["labels_to_95"]),
                _mean(result["mean_labels_to_95"]),
                _paper(result["paper"][1]),
                " ".join(f"{value:.3f}" for value in result["final_accuracy"]),
                f"{statistics.mean(result['alc']):.3f}",
            ]
        )
    _print_table(header, rows)
    print("\nSeconds per round (medians) and per run:")
    header = ["strategy", "fit", "query", "evaluate", "run (per seed)"]
    rows = [
        [
            result["display"],
            f"{result['fit_s_median']:.2f}",
            f"{result['query_s_median']:.2f}",
            f"{result['eval_s_median']:.2f}",
            " ".join(f"{seconds:.0f}" for seconds in result["run_s"]),
        ]
        for result in summary["results"].values()
    ]
    _print_table(header, rows)
    print(f"\nwall time {summary['wall_s']:.0f} s", flush=True)


def markdown_table(summary):
    """Return the results as a Markdown table (labels to 90 % and 95 %, ALC)."""
    budget = summary["settings"]["budget"]
    lines = [
        "| strategy | labels to 90 % per seed | mean | paper | labels to 95 % per "
        f"seed | mean | paper | accuracy at {budget} | ALC (0-{budget}) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in summary["results"].values():
        lines.append(
            f"| {result['display']} | {_counts(result['labels_to_90'])} | "
            f"{_mean(result['mean_labels_to_90'])} | {_paper(result['paper'][0])} | "
            f"{_counts(result['labels_to_95'])} | "
            f"{_mean(result['mean_labels_to_95'])} | {_paper(result['paper'][1])} | "
            + " / ".join(f"{value:.3f}" for value in result["final_accuracy"])
            + " | "
            + " / ".join(f"{value:.3f}" for value in result["alc"])
            + " |"
        )
    return "\n".join(lines) + "\n"


def _print_table(header, rows):
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * width for width in widths], *rows]:
        print(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )


def write_outputs(summary, records, strategies, args):
    """Write summary.json, curves.csv and (with matplotlib) curves.png."""
    settings = summary["settings"]
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = settings["framework"] + ("-only-new" if settings["only_new"] else "")
    (out / f"{stem}-summary.json").write_text(json.dumps(summary, indent=1))
    with open(out / f"{stem}-curves.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["framework", "only_new", "strategy", "seed", "acquired", "accuracy"]
        )
        for record in records:
            for n_labels, accuracy in zip(
                record["acquired"], record["accuracy"], strict=True
            ):
                writer.writerow(
                    [
                        settings["framework"],
                        settings["only_new"],
                        record["strategy"],
                        record["seed"],
                        n_labels,
                        f"{accuracy:.4f}",
                    ]
                )
    (out / f"{stem}-table.md").write_text(markdown_table(summary))
    if args.plot:
        plot(records, strategies, summary, out / f"{stem}-curves.png")
    print(f"results in {out}/{stem}-*", flush=True)


def plot(records, strategies, summary, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed", file=sys.stderr)
        return
    display = {name: strategies[name][0] for name in strategies}
    settings = summary["settings"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves_of(records, display).plot(ax, target=0.9, ylabel="test accuracy")
    ax.set_xlabel("acquired labels (after 20 initial ones)")
    ax.set_ylim(0.5, 1.0)
    mode = ", warm start" if settings["only_new"] else ""
    ax.set_title(
        f"MNIST, {settings['framework']}{mode}: mean ± std over "
        f"{len(summary['seeds'])} seeds"
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- checks -----------------------------------------------------------------------


def _to_90(result):
    """Labels to 90 % per seed; a run that never got there counts as infinite."""
    return [math.inf if value is None else value for value in result["labels_to_90"]]


def conditions(summary, kind):
    """Return ``(description, passed)`` for each target of the ``kind`` check."""
    results = summary["results"]
    missing = {"bald", "random"} - set(results)
    if kind == "nightly":
        missing |= {"varratios", "meanstd"} - set(results)
    if missing:
        return [(f"strategies {sorted(missing)} were run", False)]
    bald, random = results["bald"], results["random"]
    alc_gaps = np.subtract(bald["alc"], random["alc"])
    if kind == "bald-vs-random":
        return [
            (
                f"ALC BALD - Random >= 0.01 in every seed ({alc_gaps.round(3)})",
                bool(np.all(alc_gaps >= 0.01)),
            ),
            (
                f"BALD final accuracy >= 0.86 ({bald['final_accuracy']})",
                min(bald["final_accuracy"]) >= 0.86,
            ),
        ]
    bald90, random90 = _to_90(bald), _to_90(random)
    var90 = _to_90(results["varratios"])
    bald_mean = statistics.mean(bald90)
    mean_std = results["meanstd"]
    return [
        (
            f"labels to 90%: BALD < Random in every seed ({bald90} vs {random90})",
            all(b < r for b, r in zip(bald90, random90, strict=True)),
        ),
        (
            f"labels to 90%: seed-mean gap Random - BALD >= 40 "
            f"({statistics.mean(random90) - bald_mean})",
            statistics.mean(random90) - bald_mean >= 40,
        ),
        (
            f"ALC BALD > Random in every seed ({alc_gaps.round(3)})",
            bool(np.all(alc_gaps > 0)),
        ),
        (
            f"labels to 90%: Var Ratios seed mean < Random's ({var90} vs {random90})",
            statistics.mean(var90) < statistics.mean(random90),
        ),
        (
            f"labels to 90%: BALD seed mean in [70, 220] ({bald_mean:.0f}; paper 145)",
            70 <= bald_mean <= 220,
        ),
        (
            f"Random labels to 90% >= 150 or not reached ({random90})",
            min(random90) >= 150,
        ),
        (
            f"BALD final accuracy >= 0.93 ({bald['final_accuracy']})",
            min(bald["final_accuracy"]) >= 0.93,
        ),
        (
            f"Mean STD scores not constant on any queried batch "
            f"({mean_std['query_scores_constant_rounds']} constant)",
            mean_std["query_scores_constant_rounds"] == 0,
        ),
    ]


def check(summary, kind):
    """Print each target of the ``kind`` check; exit 1 when one is missed."""
    results = conditions(summary, kind)
    print(f"\n{kind} check:")
    for description, passed in results:
        print(f"  {'PASS' if passed else 'FAIL'}  {description}")
    bald = summary["results"].get("bald")
    if bald is not None and bald["mean_labels_to_90"] is not None:
        mean = bald["mean_labels_to_90"]
        within = "within" if 0.75 * 145 <= mean <= 1.25 * 145 else "outside"
        print(
            f"  note  BALD needs {mean:.0f} labels to 90% on the seed mean, {within} "
            f"± 25% of the paper's 145 ({mean / 145 - 1:+.0%})"
        )
    if not all(passed for _, passed in results):
        raise SystemExit(f"the {kind} check failed")
