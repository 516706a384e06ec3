"""information_density against the full N x N similarity matrix."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist, cityblock, cosine, euclidean

from al_adapters.density import (
    cosine_similarity,
    euclidean_similarity,
    information_density,
    similarize_distance,
)


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(23, 4))


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 23, 100])
def test_density_is_the_row_mean_of_the_full_similarity_matrix(X, metric, chunk_size):
    scipy_metric = {"manhattan": "cityblock"}.get(metric, metric)
    full = 1 / (1 + cdist(X, X, metric=scipy_metric))
    np.testing.assert_allclose(
        information_density(X, metric, chunk_size=chunk_size),
        full.mean(axis=1),
        rtol=1e-6,
    )


def test_callable_metric_and_sparse_rows(X):
    full = np.array([[1 / (1 + cityblock(a, b)) for b in X] for a in X])
    np.testing.assert_allclose(
        information_density(X, cityblock, chunk_size=5), full.mean(axis=1)
    )
    np.testing.assert_allclose(
        information_density(sp.csr_matrix(X), chunk_size=6),
        information_density(X),
        rtol=1e-6,
    )


def test_similarities_are_one_over_one_plus_distance():
    a, b = np.array([1.0, 2.0, 0.5]), np.array([-1.0, 0.0, 3.0])
    assert euclidean_similarity(a, b) == pytest.approx(1 / (1 + euclidean(a, b)))
    assert cosine_similarity(a, b) == pytest.approx(1 / (1 + cosine(a, b)))
    assert similarize_distance(cityblock)(a, b) == pytest.approx(1 / 7.5)


def test_empty_pool_is_refused():
    with pytest.raises(ValueError, match="empty"):
        information_density(np.empty((0, 3)))


N_ROWS = 8_000
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from al_adapters.density import information_density

    def rss(field):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    X = np.random.default_rng(0).normal(size=(int(sys.argv[1]), 4))
    information_density(X[:50])  # warm up outside the measure
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM) to the current RSS
    before = rss("VmRSS")
    density = information_density(X)
    print(json.dumps({"peak_over_setup": rss("VmHWM") - before,
                      "n": len(density), "finite": bool(np.isfinite(density).all())}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_density_of_a_large_pool_needs_no_n_by_n_matrix():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(N_ROWS)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    full_matrix = N_ROWS * N_ROWS * 8  # 512 MB
    print(report)
    assert report["n"] == N_ROWS
    assert report["finite"]
    assert report["peak_over_setup"] < 80 * 2**20 < full_matrix / 6
