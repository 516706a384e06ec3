"""Monte Carlo dropout strategies: BALD, variation ratio, mean STD, max entropy.

The measures take an array of ``n_samples`` stochastic predictions, of shape
``(n_samples, n_rows, n_classes)`` (MC samples on the first axis), in NumPy, torch
(on any device) or TensorFlow, and return one score per row in the same array
library and on the same device, computed per row and accumulated in at least
float32.

The strategies (``bald_sampling`` and friends) call the estimator's
``sample_proba(X, n_samples, random_state)`` chunk by chunk: the
``n_samples`` dropout passes of a chunk run on the model's device and are reduced
there, and only the chosen rows' indices and scores reach the host. No
``(n_rows, n_samples, n_classes)`` array is held for the whole pool; the chunk
size shrinks as ``n_samples * n_classes`` grows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from al_adapters._bayesian_measures import bald, max_entropy, mean_std, var_ratios
from al_adapters._monte_carlo import mc_top_scores
from al_adapters._rows import reads_row_views
from al_adapters._typing import RandomStateLike, Rows

__all__ = [
    "bald",
    "var_ratios",
    "mean_std",
    "max_entropy",
    "bald_sampling",
    "var_ratios_sampling",
    "mean_std_sampling",
    "max_entropy_sampling",
]


@reads_row_views
def bald_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    n_samples: int = 20,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    mixed_precision: str | None = None,
    **sample_proba_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest BALD: the passes are confident but disagree.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        An estimator with ``sample_proba(X, n_samples, random_state)``, such as
        :class:`~al_adapters.TorchAdapter` or :class:`~al_adapters.KerasAdapter`
        on a model with dropout, or a learner around one.
    X : array-like, tensor, Dataset, DataLoader, tf.data.Dataset or iterable
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    n_samples : int, default=20
        Stochastic forward passes per row.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks (one seed per chunk), the subsample, the
        stochastic draw and the tie-break: the same seed and chunk size give the
        same query.
    chunk_size : int, default=None
        Rows per chunk; None picks one from a memory budget that accounts for
        ``n_samples`` and the number of classes.
    subsample : int, default=None
        Score only this many candidates, drawn from ``random_state`` (Gal et al.
        2017 scored 2,000 per round). None scores all.
    stochastic : {'power', 'softmax'} or None, default=None
        Draw the rows at random, weighted by ``score ** beta`` or
        ``exp(beta * score)`` (Kirsch et al. 2021), instead of taking the best.
    beta : float, default=1.0
        Inverse temperature of the stochastic draw.
    mixed_precision : {'bfloat16', 'float16'} or None, default=None
        Run a torch model's passes under autocast; scores stay float32.
    **sample_proba_kwargs
        Passed to ``sample_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, highest BALD first.
    scores : ndarray of shape (n_instances,)
        Their :func:`bald` scores.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import bald_sampling
    >>> class Noisy:  # any estimator with sample_proba, such as TorchAdapter
    ...     def sample_proba(self, X, n_samples, random_state=None):
    ...         rng = np.random.default_rng(random_state)
    ...         p = rng.uniform(size=(n_samples, len(X), 1))
    ...         return np.concatenate([p * X, 1 - p * X], axis=2)
    >>> X = np.linspace(0, 1, 5).reshape(5, 1)
    >>> idx, _ = bald_sampling(Noisy(), X, n_instances=2, random_state=0)
    >>> idx.shape
    (2,)
    """
    return mc_top_scores(
        bald,
        classifier,
        X,
        n_instances,
        n_samples=n_samples,
        random_state=random_state,
        sample_proba_kwargs=sample_proba_kwargs,
        strategy="bald_sampling",
        random_tie_break=random_tie_break,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
    )


@reads_row_views
def var_ratios_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    n_samples: int = 20,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    mixed_precision: str | None = None,
    **sample_proba_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose passes vote most for different classes (variation ratio).

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        An estimator with ``sample_proba(X, n_samples, random_state)``, such as
        :class:`~al_adapters.TorchAdapter` or :class:`~al_adapters.KerasAdapter`
        on a model with dropout, or a learner around one.
    X : array-like, tensor, Dataset, DataLoader, tf.data.Dataset or iterable
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    n_samples : int, default=20
        Stochastic forward passes per row.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks (one seed per chunk), the subsample, the
        stochastic draw and the tie-break: the same seed and chunk size give the
        same query.
    chunk_size : int, default=None
        Rows per chunk; None picks one from a memory budget that accounts for
        ``n_samples`` and the number of classes.
    subsample : int, default=None
        Score only this many candidates, drawn from ``random_state`` (Gal et al.
        2017 scored 2,000 per round). None scores all.
    stochastic : {'power', 'softmax'} or None, default=None
        Draw the rows at random, weighted by ``score ** beta`` or
        ``exp(beta * score)`` (Kirsch et al. 2021), instead of taking the best.
    beta : float, default=1.0
        Inverse temperature of the stochastic draw.
    mixed_precision : {'bfloat16', 'float16'} or None, default=None
        Run a torch model's passes under autocast; scores stay float32.
    **sample_proba_kwargs
        Passed to ``sample_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, highest variation ratio first.
    scores : ndarray of shape (n_instances,)
        Their :func:`var_ratios` scores.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import var_ratios_sampling
    >>> class Noisy:  # any estimator with sample_proba, such as TorchAdapter
    ...     def sample_proba(self, X, n_samples, random_state=None):
    ...         rng = np.random.default_rng(random_state)
    ...         p = rng.uniform(size=(n_samples, len(X), 1))
    ...         return np.concatenate([p * X, 1 - p * X], axis=2)
    >>> X = np.linspace(0, 1, 5).reshape(5, 1)
    >>> idx, _ = var_ratios_sampling(Noisy(), X, n_instances=2, random_state=0)
    >>> idx.shape
    (2,)
    """
    return mc_top_scores(
        var_ratios,
        classifier,
        X,
        n_instances,
        n_samples=n_samples,
        random_state=random_state,
        sample_proba_kwargs=sample_proba_kwargs,
        strategy="var_ratios_sampling",
        random_tie_break=random_tie_break,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
    )


@reads_row_views
def mean_std_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    n_samples: int = 20,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    mixed_precision: str | None = None,
    **sample_proba_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose passes' probabilities vary most (mean standard deviation).

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        An estimator with ``sample_proba(X, n_samples, random_state)``, such as
        :class:`~al_adapters.TorchAdapter` or :class:`~al_adapters.KerasAdapter`
        on a model with dropout, or a learner around one.
    X : array-like, tensor, Dataset, DataLoader, tf.data.Dataset or iterable
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    n_samples : int, default=20
        Stochastic forward passes per row.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks (one seed per chunk), the subsample, the
        stochastic draw and the tie-break: the same seed and chunk size give the
        same query.
    chunk_size : int, default=None
        Rows per chunk; None picks one from a memory budget that accounts for
        ``n_samples`` and the number of classes.
    subsample : int, default=None
        Score only this many candidates, drawn from ``random_state`` (Gal et al.
        2017 scored 2,000 per round). None scores all.
    stochastic : {'power', 'softmax'} or None, default=None
        Draw the rows at random, weighted by ``score ** beta`` or
        ``exp(beta * score)`` (Kirsch et al. 2021), instead of taking the best.
    beta : float, default=1.0
        Inverse temperature of the stochastic draw.
    mixed_precision : {'bfloat16', 'float16'} or None, default=None
        Run a torch model's passes under autocast; scores stay float32.
    **sample_proba_kwargs
        Passed to ``sample_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, highest mean STD first.
    scores : ndarray of shape (n_instances,)
        Their :func:`mean_std` scores.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import mean_std_sampling
    >>> class Noisy:  # any estimator with sample_proba, such as TorchAdapter
    ...     def sample_proba(self, X, n_samples, random_state=None):
    ...         rng = np.random.default_rng(random_state)
    ...         p = rng.uniform(size=(n_samples, len(X), 1))
    ...         return np.concatenate([p * X, 1 - p * X], axis=2)
    >>> X = np.linspace(0, 1, 5).reshape(5, 1)
    >>> idx, _ = mean_std_sampling(Noisy(), X, n_instances=2, random_state=0)
    >>> idx.shape
    (2,)
    """
    return mc_top_scores(
        mean_std,
        classifier,
        X,
        n_instances,
        n_samples=n_samples,
        random_state=random_state,
        sample_proba_kwargs=sample_proba_kwargs,
        strategy="mean_std_sampling",
        random_tie_break=random_tie_break,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
    )


@reads_row_views
def max_entropy_sampling(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    *,
    n_samples: int = 20,
    random_state: RandomStateLike = None,
    chunk_size: int | None = None,
    subsample: int | None = None,
    stochastic: str | None = None,
    beta: float = 1.0,
    mixed_precision: str | None = None,
    **sample_proba_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose mean prediction over the passes has the highest entropy.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        An estimator with ``sample_proba(X, n_samples, random_state)``, such as
        :class:`~al_adapters.TorchAdapter` or :class:`~al_adapters.KerasAdapter`
        on a model with dropout, or a learner around one.
    X : array-like, tensor, Dataset, DataLoader, tf.data.Dataset or iterable
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    n_samples : int, default=20
        Stochastic forward passes per row.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks (one seed per chunk), the subsample, the
        stochastic draw and the tie-break: the same seed and chunk size give the
        same query.
    chunk_size : int, default=None
        Rows per chunk; None picks one from a memory budget that accounts for
        ``n_samples`` and the number of classes.
    subsample : int, default=None
        Score only this many candidates, drawn from ``random_state`` (Gal et al.
        2017 scored 2,000 per round). None scores all.
    stochastic : {'power', 'softmax'} or None, default=None
        Draw the rows at random, weighted by ``score ** beta`` or
        ``exp(beta * score)`` (Kirsch et al. 2021), instead of taking the best.
    beta : float, default=1.0
        Inverse temperature of the stochastic draw.
    mixed_precision : {'bfloat16', 'float16'} or None, default=None
        Run a torch model's passes under autocast; scores stay float32.
    **sample_proba_kwargs
        Passed to ``sample_proba``.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, highest entropy first.
    scores : ndarray of shape (n_instances,)
        Their :func:`max_entropy` scores.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import max_entropy_sampling
    >>> class Noisy:  # any estimator with sample_proba, such as TorchAdapter
    ...     def sample_proba(self, X, n_samples, random_state=None):
    ...         rng = np.random.default_rng(random_state)
    ...         p = rng.uniform(size=(n_samples, len(X), 1))
    ...         return np.concatenate([p * X, 1 - p * X], axis=2)
    >>> X = np.linspace(0, 1, 5).reshape(5, 1)
    >>> idx, _ = max_entropy_sampling(Noisy(), X, n_instances=2, random_state=0)
    >>> idx.shape
    (2,)
    """
    return mc_top_scores(
        max_entropy,
        classifier,
        X,
        n_instances,
        n_samples=n_samples,
        random_state=random_state,
        sample_proba_kwargs=sample_proba_kwargs,
        strategy="max_entropy_sampling",
        random_tie_break=random_tie_break,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
    )
