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

``batch_bald`` and ``batch_bald_sampling`` (BatchBALD) choose a whole batch by
its joint mutual information, so that it does not fill up with near-duplicates;
they hold the samples of the rows they choose among.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from al_adapters._batchbald import batch_bald, batch_bald_sampling
from al_adapters._bayesian_measures import bald, max_entropy, mean_std, var_ratios
from al_adapters._rows import reads_row_views
from al_adapters._strategies import make_streaming_strategy, shared_docs
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
    "batch_bald",
    "batch_bald_sampling",
]

_STRATEGIES = {
    measure.__name__: make_streaming_strategy(
        measure, on="samples", name=f"{measure.__name__}_sampling"
    )
    for measure in (bald, var_ratios, mean_std, max_entropy)
}


@reads_row_views
@shared_docs
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
    {mc_classifier_parameters}
    {query_parameters}
    {mc_parameters}
    {stream_parameters}
    {mixed_precision_parameter}
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
    return _STRATEGIES["bald"](
        classifier,
        X,
        n_instances,
        random_tie_break,
        n_samples=n_samples,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
        **sample_proba_kwargs,
    )


@reads_row_views
@shared_docs
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
    {mc_classifier_parameters}
    {query_parameters}
    {mc_parameters}
    {stream_parameters}
    {mixed_precision_parameter}
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
    return _STRATEGIES["var_ratios"](
        classifier,
        X,
        n_instances,
        random_tie_break,
        n_samples=n_samples,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
        **sample_proba_kwargs,
    )


@reads_row_views
@shared_docs
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
    {mc_classifier_parameters}
    {query_parameters}
    {mc_parameters}
    {stream_parameters}
    {mixed_precision_parameter}
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
    return _STRATEGIES["mean_std"](
        classifier,
        X,
        n_instances,
        random_tie_break,
        n_samples=n_samples,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
        **sample_proba_kwargs,
    )


@reads_row_views
@shared_docs
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
    {mc_classifier_parameters}
    {query_parameters}
    {mc_parameters}
    {stream_parameters}
    {mixed_precision_parameter}
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
    return _STRATEGIES["max_entropy"](
        classifier,
        X,
        n_instances,
        random_tie_break,
        n_samples=n_samples,
        random_state=random_state,
        chunk_size=chunk_size,
        subsample=subsample,
        stochastic=stochastic,
        beta=beta,
        mixed_precision=mixed_precision,
        **sample_proba_kwargs,
    )
