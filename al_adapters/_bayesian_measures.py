"""The Bayesian measures, on ``(n_samples, n_rows, n_classes)`` Monte Carlo samples.

Public through :mod:`al_adapters.bayesian`.
"""

from al_adapters import _backend
from al_adapters._typing import Array
from al_adapters.uncertainty import entropy, probabilities


def _checked_samples(samples):
    if len(samples.shape) != 3:
        raise ValueError(
            "samples must have shape (n_samples, n_rows, n_classes), got shape "
            f"{tuple(samples.shape)}"
        )
    return probabilities(samples)


def max_entropy(samples: Array) -> Array:
    """Return the entropy of the mean predicted distribution of each row.

    Parameters
    ----------
    samples : array of shape (n_samples, n_rows, n_classes)
        Class probabilities from ``n_samples`` stochastic forward passes; NumPy,
        torch (any device) or TensorFlow.

    Returns
    -------
    scores : array of shape (n_rows,)
        ``H(mean_t p_t)`` in nats, in the array library and on the device of
        ``samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import max_entropy
    >>> samples = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # 2 passes, 1 row
    >>> max_entropy(samples)
    array([0.69314718])
    """
    xp, samples = _checked_samples(samples)
    return entropy(xp.mean(samples, axis=0), axis=1)


def bald(samples: Array) -> Array:
    """Return BALD: the mutual information between the prediction and the weights.

    ``H(mean_t p_t) - mean_t H(p_t)`` per row (Houlsby et al. 2011, Gal et al.
    2017): high where the passes are each confident but disagree. It is never
    negative; rounding below 0 is clipped to 0.

    Parameters
    ----------
    samples : array of shape (n_samples, n_rows, n_classes)
        Class probabilities from ``n_samples`` stochastic forward passes; NumPy,
        torch (any device) or TensorFlow.

    Returns
    -------
    scores : array of shape (n_rows,)
        In nats, in the array library and on the device of ``samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import bald
    >>> disagree = [[1.0, 0.0], [0.0, 1.0]]  # two confident passes that disagree
    >>> unsure = [[0.5, 0.5], [0.5, 0.5]]  # two passes, both unsure
    >>> bald(np.array([disagree, unsure]).transpose(1, 0, 2))
    array([0.69314718, 0.        ])
    """
    xp, samples = _checked_samples(samples)
    mean_entropy = xp.mean(entropy(samples, axis=2), axis=0)
    information = entropy(xp.mean(samples, axis=0), axis=1) - mean_entropy
    return xp.where(information > 0, information, xp.zeros_like(information))


def var_ratios(samples: Array) -> Array:
    """Return the variation ratio: the share of passes not voting for the modal class.

    ``1 - count(mode) / n_samples``, where each pass votes for its most likely
    class (the first one on ties), as in Gal et al. 2017.

    Parameters
    ----------
    samples : array of shape (n_samples, n_rows, n_classes)
        Class probabilities from ``n_samples`` stochastic forward passes; NumPy,
        torch (any device) or TensorFlow.

    Returns
    -------
    scores : array of shape (n_rows,)
        In ``[0, 1 - 1 / n_classes]``, in the array library and on the device of
        ``samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import var_ratios
    >>> votes = np.eye(3)[[0, 0, 1, 2]]  # 4 passes voting 0, 0, 1, 2
    >>> var_ratios(votes[:, None, :])
    array([0.5])
    """
    xp, samples = _checked_samples(samples)
    n_samples, _, n_classes = samples.shape
    votes = xp.argmax(samples, axis=2)
    classes = xp.arange(n_classes, dtype=votes.dtype, device=_backend.device(votes))
    counts = xp.sum(xp.astype(votes[:, :, None] == classes, samples.dtype), axis=0)
    return 1 - xp.max(counts, axis=1) / n_samples


def mean_std(samples: Array) -> Array:
    """Return the mean over classes of the standard deviation over passes.

    ``mean_c sqrt(E_t[p_tc^2] - E_t[p_tc]^2)`` per row (Kampffmeyer et al. 2016,
    Gal et al. 2017).

    Parameters
    ----------
    samples : array of shape (n_samples, n_rows, n_classes)
        Class probabilities from ``n_samples`` stochastic forward passes; NumPy,
        torch (any device) or TensorFlow.

    Returns
    -------
    scores : array of shape (n_rows,)
        In the array library and on the device of ``samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.bayesian import mean_std
    >>> mean_std(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]))
    array([0.5])
    """
    xp, samples = _checked_samples(samples)
    return xp.mean(xp.std(samples, axis=0), axis=1)
