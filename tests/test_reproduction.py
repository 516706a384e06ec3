"""The Gal et al. (2017) reproduction on MNIST, CI-sized: BALD beats random sampling.

The full protocol (five strategies, three seeds, 300 labels) runs in
``nox -s reproduce``; here BALD and random sampling run once each (seed 0, 150
acquired labels, a fixed subset of 2,000 test images) and must keep the
margins of the study in ``docs/reproducing.md``.
"""

import gzip
import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPRODUCTIONS = Path(__file__).resolve().parent.parent / "benchmarks" / "reproductions"
SCRIPT = REPRODUCTIONS / "gal2017.py"
sys.path.insert(0, str(REPRODUCTIONS))

import gal2017_models  # noqa: E402
import mnist_idx  # noqa: E402

pytestmark = pytest.mark.reproduction


def mnist_or_skip():
    try:
        return mnist_idx.load_mnist()
    except mnist_idx.MissingDataError as exc:
        pytest.skip(f"MNIST is not available: {exc}")


def run_script(*args, env=None):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


# -- the data and the training schedule -------------------------------------------


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as file:
        file.write(raw)
    return hashlib.sha256(raw).hexdigest()


def test_read_idx_checks_the_checksum(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    digest = write_idx(tmp_path / "x.gz", images)
    np.testing.assert_array_equal(mnist_idx.read_idx(tmp_path / "x.gz", digest), images)
    with pytest.raises(ValueError, match="SHA-256"):
        mnist_idx.read_idx(tmp_path / "x.gz", "0" * 64)


def test_script_exits_with_the_reason_when_mnist_is_missing(tmp_path):
    result = run_script("--data-dir", str(tmp_path), "--output-dir", str(tmp_path))
    assert result.returncode != 0
    assert "MNIST is missing" in result.stderr
    assert "train-images-idx3-ubyte" in result.stderr
    assert str(tmp_path) in result.stderr


def test_schedule_has_no_ragged_batch_and_enough_steps():
    for n_rows in [*range(1, 1200), 5000, 10000]:
        batch_size, epochs = gal2017_models.schedule(n_rows)
        n_batches = math.ceil(n_rows / batch_size)
        last = n_rows - (n_batches - 1) * batch_size
        assert batch_size <= 128, n_rows
        assert n_batches == math.ceil(n_rows / 128), n_rows  # no extra batches
        assert batch_size - last < n_batches, n_rows  # the last one nearly full
        assert epochs >= 50, n_rows
        assert epochs * n_batches >= 100, n_rows
        assert epochs == 50 or (epochs - 1) * n_batches < 100, n_rows


# -- the network ------------------------------------------------------------------


@pytest.fixture
def one_torch_thread():
    """One thread, as in the benchmark: two fight over two shared cores."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("skorch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def test_mean_std_scores_vary_within_a_queried_batch(one_torch_thread):
    """The authors' Mean STD scored every row 0: ours must rank by real spread."""
    torch = one_torch_thread

    from al_adapters.bayesian import mean_std, mean_std_sampling

    X_train, y_train, _, _ = mnist_or_skip()
    X = (X_train[:3000] / np.float32(255)).astype(np.float32)[:, None]
    y = y_train[:3000].astype(np.int64)
    initial = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(10)])
    torch.manual_seed(0)
    adapter = gal2017_models.make_torch_adapter(len(initial))
    adapter.fit(X[initial], y[initial])

    _, scores = mean_std_sampling(
        adapter, X[:500], n_instances=10, n_samples=20, random_state=0
    )
    assert np.ptp(scores) > 0
    assert scores.min() > 0.01

    samples = adapter.sample_proba(X[:200], 20, random_state=0)
    assert np.ptp(samples[:, 0, :], axis=0).max() > 0  # dropout is on
    reference = np.sqrt(
        (samples.astype(np.float64) ** 2).mean(axis=0) - samples.mean(axis=0) ** 2
    ).mean(axis=1)
    np.testing.assert_allclose(mean_std(samples), reference, rtol=1e-4, atol=1e-6)
    assert np.ptp(reference) > 0


# -- the reproduction itself -------------------------------------------------------


@pytest.fixture(scope="module")
def bald_and_random(tmp_path_factory):
    """Summary of BALD and random sampling, seed 0, 150 labels, 2,000 test images."""
    pytest.importorskip("skorch")
    mnist_or_skip()
    out = tmp_path_factory.mktemp("gal2017")
    result = run_script(
        "--strategies=bald,random",
        "--seeds=0",
        "--budget=150",
        "--test-subset=2000",
        f"--output-dir={out}",
        "--threads=1",
        "--jobs=2",
        "--no-plot",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((out / "torch-summary.json").read_text())["results"], out


def test_bald_beats_random_sampling_on_mnist(bald_and_random):
    results, _ = bald_and_random
    bald, random = results["bald"], results["random"]
    # ALC(0-150): 0.828 / 0.835 / 0.847 against 0.798 / 0.816 / 0.799 in the study
    assert bald["alc"][0] >= random["alc"][0] + 0.01
    # 0.889 / 0.903 / 0.895 in the study
    assert bald["final_accuracy"][0] >= 0.86


def test_strategies_start_from_the_same_model_and_write_curves(bald_and_random):
    _, out = bald_and_random
    curves = {}
    for line in (out / "torch-curves.csv").read_text().splitlines()[1:]:
        _, _, strategy, seed, acquired, accuracy = line.split(",")
        curves.setdefault(strategy, []).append((int(acquired), float(accuracy)))
    assert [n for n, _ in curves["bald"]] == list(range(0, 160, 10))
    assert [n for n, _ in curves["random"]] == list(range(0, 160, 10))
    # same seed: same initial labels and weights, so the same first accuracy
    assert curves["bald"][0] == curves["random"][0]
    assert 0.3 < curves["bald"][0][1] < 0.85  # 20 labels: better than chance


# -- reusing runs, Repeated MNIST, quartiles (Kirsch et al. 2019) -----------------


def saved_run(path, settings, n_rounds):
    """Write a run record of ``n_rounds`` rounds whose entries name their round."""
    record = {
        "strategy": "bald",
        "seed": 0,
        "settings": settings,
        "acquired": [10 * r for r in range(n_rounds + 1)],
        "accuracy": [0.5 + r / 100 for r in range(n_rounds + 1)],
        "fit_s": list(range(n_rounds + 1)),
        "eval_s": list(range(n_rounds + 1)),
        "query_s": list(range(n_rounds)),
        "query_scores": [[r] for r in range(n_rounds)],
        "wall_s": 1.0,
    }
    path.write_text(json.dumps(record))


def test_a_longer_run_is_reused_cut_to_the_budget(tmp_path):
    import gal2017

    path = tmp_path / "run.json"
    longer = gal2017.parse_args(["--budget=50", "--strategies=bald"])
    saved_run(path, gal2017.settings_of(longer, "bald"), n_rounds=5)

    shorter = gal2017.parse_args(["--budget=20", "--strategies=bald"])
    record = gal2017.load_record(shorter, path, "bald")
    assert record["acquired"] == [0, 10, 20]
    assert record["accuracy"] == [0.5, 0.51, 0.52]
    assert record["fit_s"] == [0, 1, 2]
    assert record["eval_s"] == [0, 1, 2]
    assert record["query_s"] == [0, 1]
    assert record["query_scores"] == [[0], [1]]
    assert record["settings"]["budget"] == 20
    assert record["cut_from_budget"] == 50
    assert gal2017.load_record(longer, path, "bald")["acquired"][-1] == 50

    # a longer budget, or any other difference, is another run
    more = gal2017.parse_args(["--budget=60"])
    assert gal2017.load_record(more, path, "bald") is None
    other_t = gal2017.parse_args(["--budget=20", "--mc-samples=5"])
    assert gal2017.load_record(other_t, path, "bald") is None
    prefiltered = gal2017.parse_args(["--budget=20", "--prefilter=200"])
    assert gal2017.load_record(prefiltered, path, "bald") is not None  # BALD ignores it
    assert gal2017.load_record(prefiltered, path, "batchbald") is None


def test_repeated_pool_copies_carry_their_own_fixed_noise():
    import kirsch2019_repeated as repeated

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(7, 1, 28, 28)).astype(np.float32)
    y = np.arange(7) % 3
    pool = repeated.RepeatedPool(X, y, copies=3)
    assert len(pool) == 21
    np.testing.assert_array_equal(pool.y, np.concatenate([y, y, y]))
    np.testing.assert_array_equal(pool.image_of([0, 6, 7, 20]), [0, 6, 0, 6])

    rows = pool.rows([2, 9, 16])  # the three copies of image 2
    np.testing.assert_array_equal(rows, pool.rows([2, 9, 16]))  # fixed
    noise = rows - X[2]
    assert not np.array_equal(noise[0], noise[1])
    assert abs(noise.std() - 0.1 * 0.3081) < 0.003
    assert abs(noise.mean()) < 0.003


def test_repeated_candidates_are_every_unlabelled_copy_of_random_images():
    import kirsch2019_repeated as repeated

    pool = repeated.RepeatedPool(np.zeros((10, 1, 2, 2), np.float32), np.arange(10))
    pool.labelled[[3, 13]] = True  # two copies of image 3
    for seed in range(20):
        rows = pool.candidates(7, np.random.default_rng(seed))  # ceil(7 / 3) = 3
        images = set(pool.image_of(rows).tolist())
        assert len(images) == 3
        expected = sorted(
            image + 10 * copy
            for image in images
            for copy in range(3)
            if image + 10 * copy not in (3, 13)
        )
        assert rows.tolist() == expected


def test_quartiles_count_a_run_that_never_got_there_as_infinite():
    import kirsch2019

    # sorted 100, 120, inf: positions 0.5, 1 and 1.5 of numpy's linear rule
    np.testing.assert_array_equal(
        kirsch2019.quartiles([120, None, 100]), [110, 120, np.inf]
    )
    np.testing.assert_array_equal(
        kirsch2019.quartiles([70, 90, 110, 130]), [85, 100, 115]
    )
