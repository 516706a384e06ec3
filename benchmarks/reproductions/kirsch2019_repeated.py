"""Repeated MNIST of Kirsch et al. (2019): each training image three times, with noise.

The pool holds every MNIST training image ``copies`` times; each copy gets its
own fixed Gaussian noise (standard deviation 0.1 on the normalised scale of
Kirsch et al., that is 0.1 x 0.3081 on our [0, 1] pixels), drawn from the row
number so that no 180,000-image array is ever built. Each round scores a random
subset of about 2,000 rows made of whole groups: ``subset / copies`` random
training images and every unlabelled copy of each, so that a copy of a
candidate is always a candidate too, as in the whole pool Kirsch et al. score.
Top-k BALD then tends to take the copies of its best images, BatchBALD not.
"""

import math
import os
import time

import gal2017
import gal2017_models as models
import numpy as np

from al_adapters import ActiveLearner

#: Kirsch et al.'s noise, 0.1 in units of MNIST's standard deviation (0.3081).
NOISE_STD = 0.1 * 0.3081
#: Seed of the noise: the same repeated pool for every run.
NOISE_SEED = 20190618


class RepeatedPool:
    """``copies`` noisy copies of the rows of ``X``; row ``r`` is a copy of ``r % n``.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
        The images, float32 in [0, 1].
    y : ndarray of shape (n,)
        Their labels.
    copies : int
        How many times each image appears.
    noise_std : float
        Standard deviation of the Gaussian noise added to every copy.
    """

    def __init__(self, X, y, copies=3, noise_std=NOISE_STD):
        self.X, self.copies, self.noise_std = X, copies, noise_std
        self.n_images = len(X)
        self.y = np.tile(y, copies)
        self.labelled = np.zeros(self.n_images * copies, dtype=bool)

    def __len__(self):
        return self.n_images * self.copies

    def image_of(self, rows):
        """Return the training image each of ``rows`` is a copy of."""
        return np.asarray(rows) % self.n_images

    def rows(self, rows):
        """Return the noisy images of ``rows`` (float32), the same on every call."""
        rows = np.asarray(rows)
        noise = np.stack(
            [
                np.random.default_rng([NOISE_SEED, int(row)]).normal(
                    0.0, self.noise_std, size=self.X.shape[1:]
                )
                for row in rows
            ]
        ).astype(np.float32)
        return self.X[self.image_of(rows)] + noise

    def candidates(self, subset, rng):
        """Return the unlabelled copies of ``subset // copies`` random images."""
        images = rng.choice(
            self.n_images, size=math.ceil(subset / self.copies), replace=False
        )
        rows = (
            images[None, :] + self.n_images * np.arange(self.copies)[:, None]
        ).ravel()
        return np.sort(rows[~self.labelled[rows]])


def run_repeated(args, data, strategy, seed):
    """Run one strategy with one seed on Repeated MNIST; return its record."""
    X_train, y_train, X_test, y_test = data
    pool = RepeatedPool(X_train, y_train, copies=args.copies)
    rng = np.random.default_rng(seed)
    initial = np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(pool.y == label), size=2, replace=False)
                for label in range(models.N_CLASSES)
            ]
        )
    )
    pool.labelled[initial] = True
    import torch

    torch.manual_seed(seed)
    query_strategy = gal2017.STRATEGIES[strategy][1]
    learner = ActiveLearner(
        models.make_torch_adapter(len(initial), device=args.device),
        query_strategy=query_strategy or gal2017.bald_sampling,  # random never queries
        X_training=pool.rows(initial),
        y_training=pool.y[initial],
    )
    record = {
        "strategy": strategy,
        "seed": seed,
        "settings": settings_of(args, strategy),
        "acquired": [],
        "accuracy": [],
        "distinct_images": [],
        "fit_s": [learner.timings_[-1]["fit"]],
        "query_s": [],
        "eval_s": [],
    }
    start, load = time.perf_counter(), os.getloadavg()[0]

    def evaluate():
        tic = time.perf_counter()
        accuracy = learner.score(X_test, y_test)
        record["eval_s"].append(time.perf_counter() - tic)
        record["acquired"].append(int(pool.labelled.sum()) - len(initial))
        record["accuracy"].append(float(accuracy))

    evaluate()
    for _ in range(args.budget // args.acquisition_size):
        tic = time.perf_counter()
        if query_strategy is None:
            rows = rng.choice(
                np.flatnonzero(~pool.labelled),
                size=args.acquisition_size,
                replace=False,
            )
        else:
            candidates = pool.candidates(args.pool_subset, rng)
            picked, _ = learner.query(
                pool.rows(candidates),
                n_instances=args.acquisition_size,
                n_samples=args.mc_samples,
                random_state=int(rng.integers(2**31 - 1)),
                **gal2017.strategy_options(args, strategy),
            )
            rows = candidates[picked]
        record["query_s"].append(time.perf_counter() - tic)
        record["distinct_images"].append(len(np.unique(pool.image_of(rows))))
        pool.labelled[rows] = True
        learner.estimator.set_params(
            **models.torch_training_params(int(pool.labelled.sum()))
        )
        learner.teach(pool.rows(rows), pool.y[rows])
        record["fit_s"].append(learner.timings_[-1]["fit"])
        evaluate()
    record["wall_s"] = time.perf_counter() - start
    record["load"] = [load, os.getloadavg()[0]]
    return record


def settings_of(args, strategy):
    """Return the options that define a Repeated-MNIST run's result."""
    return {
        **gal2017.settings_of(args, strategy),
        "dataset": "repeated-mnist",
        "copies": args.copies,
        "noise_std": NOISE_STD,
    }
