import matplotlib
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters.curves import LearningCurves

matplotlib.use("Agg")


@pytest.fixture
def curves():
    curves = LearningCurves()
    for run, values in enumerate([[0.2, 0.6, 0.8, 0.9], [0.2, 0.5, 0.9, 0.9]]):
        for n, v in zip([10, 20, 30, 50], values, strict=True):
            curves.record(n, v, strategy="entropy", run=run)
    for n, v in zip([10, 20, 30, 50], [0.2, 0.3, 0.4, 0.5], strict=True):
        curves.record(n, v, strategy="random", run=7)
    return curves


def test_strategies_and_runs(curves):
    assert curves.strategies == ["entropy", "random"]
    assert curves.runs("entropy") == [0, 1]
    n, v = curves.curve("random", 7)
    assert_array_equal(n, [10, 20, 30, 50])
    assert_allclose(v, [0.2, 0.3, 0.4, 0.5])


def test_area_under_the_curve_by_hand(curves):
    # trapezoids over 10..50, divided by the 40-label range
    expected0 = (10 * 0.4 + 10 * 0.7 + 20 * 0.85) / 40
    expected1 = (10 * 0.35 + 10 * 0.7 + 20 * 0.9) / 40
    assert_allclose(curves.area_under_curve("entropy"), [expected0, expected1])
    assert_allclose(curves.area_under_curve("random"), [(2.5 + 3.5 + 9) / 40])


def test_labels_to_target(curves):
    assert_array_equal(curves.labels_to_target("entropy", 0.85), [50, 30])
    assert_array_equal(curves.labels_to_target("random", 0.85), [-1])


def test_mean_curve_interpolates_different_grids():
    curves = LearningCurves()
    for n, v in [(10, 0.0), (30, 1.0)]:
        curves.record(n, v, strategy="s", run="a")
    for n, v in [(10, 0.0), (20, 0.0), (40, 1.0)]:
        curves.record(n, v, strategy="s", run="b")
    n, mean, std = curves.mean_curve("s")
    assert_array_equal(n, [10, 20, 30])
    assert_allclose(mean, [0.0, 0.25, 0.5 * (1.0 + 0.5)])
    assert_allclose(std, [0.0, 0.25, 0.25])


def test_labels_must_grow_within_a_run():
    curves = LearningCurves()
    curves.record(10, 0.5)
    with pytest.raises(ValueError, match="must grow"):
        curves.record(10, 0.6)


def test_unknown_strategy():
    with pytest.raises(KeyError, match="nope"):
        LearningCurves().runs("nope")


def test_summary_table(curves):
    text = curves.summary(target=0.85)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["strategy", "runs", "AULC", "mean"]
    assert lines[1].startswith("entropy")
    assert "40 (median)" in lines[1]
    assert "not reached" in lines[2]


def test_plot_draws_mean_and_band(curves):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    returned = curves.plot(ax, target=0.85, ylabel="accuracy")
    assert returned is ax
    assert [line.get_label() for line in ax.get_lines()][:2] == ["entropy", "random"]
    assert len(ax.collections) == 2  # one spread band per strategy
    assert ax.get_ylabel() == "accuracy"
    assert_allclose(ax.get_lines()[0].get_ydata(), [0.2, 0.55, 0.85, 0.9])
    plt.close(fig)
