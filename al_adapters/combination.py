"""Building query strategies from measures and selectors, as in modAL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from al_adapters._strategies import make_streaming_strategy
from al_adapters._typing import QueryStrategy
from al_adapters.selection import multi_argmax

__all__ = [
    "make_linear_combination",
    "make_product",
    "make_query_strategy",
    "make_streaming_strategy",
]


def make_linear_combination(
    *functions: Callable[..., Any], weights: Sequence[float] | None = None
) -> Callable[..., Any]:
    """Return a function computing a weighted sum of ``functions``' results.

    Parameters
    ----------
    *functions : callable
        Functions with the same signature, such as utility measures.
    weights : sequence of float, default=None
        One weight per function; None weighs each by 1.

    Returns
    -------
    combination : callable
        ``combination(*args, **kwargs) = sum(w * f(*args, **kwargs))``.

    Examples
    --------
    >>> from al_adapters.combination import make_linear_combination
    >>> f = make_linear_combination(lambda x: x, lambda x: x**2, weights=[1, 10])
    >>> f(2)
    42
    """
    weights = [1] * len(functions) if weights is None else list(weights)
    if len(weights) != len(functions):
        raise ValueError(
            f"got {len(weights)} weights for {len(functions)} functions; give one each"
        )

    def linear_combination(*args, **kwargs):
        return sum(
            w * f(*args, **kwargs) for w, f in zip(weights, functions, strict=True)
        )

    return linear_combination


def make_product(
    *functions: Callable[..., Any], exponents: Sequence[float] | None = None
) -> Callable[..., Any]:
    """Return a function computing the product of ``functions``' results.

    Parameters
    ----------
    *functions : callable
        Functions with the same signature, such as utility measures.
    exponents : sequence of float, default=None
        One exponent per function; None uses 1 for each.

    Returns
    -------
    product : callable
        ``product(*args, **kwargs) = prod(f(*args, **kwargs) ** e)``.

    Examples
    --------
    >>> from al_adapters.combination import make_product
    >>> make_product(lambda x: x, lambda x: x + 1, exponents=[2, 1])(3)
    36
    """
    exponents = [1] * len(functions) if exponents is None else list(exponents)
    if len(exponents) != len(functions):
        raise ValueError(
            f"got {len(exponents)} exponents for {len(functions)} functions; "
            "give one each"
        )

    def product(*args, **kwargs):
        result = 1
        for f, e in zip(functions, exponents, strict=True):
            result = result * f(*args, **kwargs) ** e
        return result

    return product


def make_query_strategy(
    utility_measure: Callable[..., Any],
    selector: Callable[..., tuple[Any, Any]] = multi_argmax,
) -> QueryStrategy:
    """Return a query strategy: score rows with a measure, pick with a selector.

    Parameters
    ----------
    utility_measure : callable
        ``utility_measure(classifier, X) -> scores`` of shape ``(n_samples,)``.
    selector : callable, default=multi_argmax
        ``selector(scores, n_instances=...) -> (indices, scores)``.

    Returns
    -------
    query_strategy : callable
        ``query_strategy(classifier, X, n_instances=1)``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters.combination import make_linear_combination, make_query_strategy
    >>> from al_adapters.uncertainty import classifier_entropy, classifier_uncertainty
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X, y)
    >>> measure = make_linear_combination(classifier_uncertainty, classifier_entropy)
    >>> strategy = make_query_strategy(measure)
    >>> indices, scores = strategy(clf, X, n_instances=3)
    >>> indices.shape
    (3,)
    """

    def query_strategy(classifier, X, n_instances=1):
        return selector(utility_measure(classifier, X), n_instances=n_instances)

    return query_strategy
