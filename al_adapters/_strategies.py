"""Streaming strategies from measures, and the options every built-in one shares.

:func:`make_streaming_strategy` turns a measure of probabilities, of Monte Carlo
samples or of embeddings into a query strategy that streams the pool through
the model in chunks and keeps a running top-k where the model computed, as the
built-in strategies do (they are made by it). :func:`shared_docs` writes the
options those strategies share into their docstrings, so each is documented
once.
"""

import re
import textwrap

from al_adapters._monte_carlo import check_n_samples, chunk_seed, draw_seed
from al_adapters._rows import reads_row_views
from al_adapters._scoring import chunk_start, n_classes_of, top_scores
from al_adapters.protocol import resolve_model
from al_adapters.selection import _make_rng

#: Kinds of model output a measure can read.
ON = ("proba", "samples", "embeddings")

#: Parameter descriptions shared by the built-in strategies, by placeholder name.
PARAMETERS = {
    "query_parameters": """\
n_instances : int, default=1
    How many rows to query.
random_tie_break : bool, default=False
    Break ties between equal scores at random instead of by lowest index.""",
    "stream_parameters": """\
chunk_size : int, default=None
    Rows scored per chunk; None takes them from the library's chunk policy (a
    memory budget that counts the model's outputs per row).
subsample : int, default=None
    Score only this many candidates, drawn uniformly without replacement from
    ``random_state`` (as Gal et al. 2017 scored 2,000 pool rows per round);
    indices still refer to the whole pool. None scores all.
stochastic : {'power', 'softmax'} or None, default=None
    Draw the rows at random with weights ``score ** beta`` or
    ``exp(beta * score)`` instead of taking the best scores (stochastic batch
    acquisition, Kirsch et al. 2021); see
    :func:`~al_adapters.selection.stochastic_ranking`.
beta : float, default=1.0
    Inverse temperature of the stochastic draw.""",
    "mixed_precision_parameter": """\
mixed_precision : {'bfloat16', 'float16'} or None, default=None
    Run a torch model's forward passes under autocast in this precision;
    scores are still accumulated in float32. Needs an estimator with
    ``to_device``.""",
    "random_state_parameter": """\
random_state : int, RandomState instance, Generator or None, default=None
    One source for the subsample, the stochastic draw and the random
    tie-break, drawn in that order.""",
    "mc_parameters": """\
n_samples : int, default=20
    Stochastic forward passes per row.
random_state : int, RandomState instance, Generator or None, default=None
    One source for the subsample, the dropout seed, the stochastic draw and
    the random tie-break. Each chunk's dropout masks are seeded from that seed
    and the id of the chunk's first row, so the same seed and chunk size give
    the same query, whatever container holds the pool and whichever worker
    scores a chunk.""",
    "mc_classifier_parameters": """\
classifier : estimator or ActiveLearner
    An estimator with ``sample_proba(X, n_samples, random_state)``, such as
    :class:`~al_adapters.TorchAdapter` or :class:`~al_adapters.KerasAdapter`
    on a model with dropout, or a learner around one.
X : array-like, tensor, Dataset, DataLoader, tf.data.Dataset or iterable
    The pool to choose from.""",
}

_PLACEHOLDER = re.compile(r"^( *)\{(\w+)\}$", flags=re.MULTILINE)


def shared_docs(function):
    """Replace each ``{name}`` line of the docstring by ``PARAMETERS[name]``."""
    function.__doc__ = _PLACEHOLDER.sub(
        lambda match: textwrap.indent(PARAMETERS[match[2]], match[1]),
        function.__doc__,
    )
    return function


def capability(classifier, name, strategy):
    """Return method ``name`` of the model that answers for ``classifier``, or raise."""
    model = resolve_model(classifier)
    method = getattr(model, name, None)
    if callable(method):
        return method
    raise TypeError(
        f"{strategy} needs an estimator with {name}(X, ...), such as TorchAdapter "
        f"or KerasAdapter; {type(model).__name__} has none"
    )


def make_streaming_strategy(measure, on="proba", *, unfitted_score=0.0, name=None):
    """Return a query strategy that streams the pool and scores it with ``measure``.

    The strategy reads the pool one chunk at a time (a chunk is moved to the
    model's device by its ``to_device`` when it has one), asks the model for
    its output on the chunk, reduces it to one score per row with ``measure``
    where the model computed it, and keeps a running top-k there: only the
    chosen indices and scores reach the host, and no array of the whole pool's
    outputs is ever built. It takes the options of the built-in strategies
    (``n_instances``, ``random_tie_break``, ``random_state``, ``chunk_size``,
    ``subsample``, ``stochastic``, ``beta``, ``mixed_precision`` and, for
    samples, ``n_samples``); other keyword arguments go to the model's method.

    Parameters
    ----------
    measure : callable
        ``measure(output) -> scores`` of shape ``(n,)``, higher is better,
        computed in the output's array library (write it with the array API, or
        with the operations of the framework the model runs in).
    on : {'proba', 'samples', 'embeddings'}, default='proba'
        What ``measure`` reads: ``predict_proba(chunk)`` of shape ``(n, C)``;
        ``sample_proba(chunk, n_samples, random_state=seed)`` of shape
        ``(T, n, C)`` (MC dropout; each chunk's seed is derived from one seed
        drawn from ``random_state`` and the id of the chunk's first row); or
        ``embed(chunk)`` of shape ``(n, d)``. The model (or the estimator of a
        learner) must have that method.
    unfitted_score : float, default=0.0
        Score of every row while the model is not fitted (modAL's convention).
    name : str, default=None
        Name of the strategy, for its ``__name__`` and error messages.

    Returns
    -------
    strategy : callable
        ``strategy(classifier, X, n_instances=1, random_tie_break=False, *,
        random_state=None, chunk_size=None, subsample=None, stochastic=None,
        beta=1.0, mixed_precision=None, **kwargs)`` returning ``(indices,
        scores)``, best first; with ``on='samples'`` it also takes
        ``n_samples=20``. It reads a :class:`~al_adapters.Pool`'s unlabelled
        rows in place.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from al_adapters import make_streaming_strategy
    >>> def gini(proba):  # any array-API expression of the probabilities
    ...     return 1 - (proba**2).sum(axis=1)
    >>> strategy = make_streaming_strategy(gini, on="proba")
    >>> X = np.linspace(-3, 3, 50).reshape(-1, 1)
    >>> clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    >>> indices, scores = strategy(clf, X, n_instances=2, chunk_size=7)
    >>> sorted(indices.tolist())
    [24, 25]
    """
    if on not in ON:
        raise ValueError(f"on must be one of {ON}, got {on!r}")
    if not callable(measure):
        raise TypeError(f"measure must be callable, got {measure!r}")
    name = name or f"{getattr(measure, '__name__', 'measure')}_sampling"

    def strategy(
        classifier,
        X,
        n_instances=1,
        random_tie_break=False,
        *,
        random_state=None,
        chunk_size=None,
        subsample=None,
        stochastic=None,
        beta=1.0,
        mixed_precision=None,
        **kwargs,
    ):
        outputs_per_row = n_classes_of(classifier)
        if on == "samples":
            n_samples = check_n_samples(kwargs.pop("n_samples", 20))
            sample_proba = capability(classifier, "sample_proba", name)
            random_state = _make_rng(random_state)
            outputs_per_row *= n_samples
            base_seed = []

            def score_chunk(_, chunk):
                if not base_seed:  # drawn after the subsample, before any draw
                    base_seed.append(draw_seed(random_state))
                seed = chunk_seed(base_seed[0], chunk_start())
                samples = sample_proba(chunk, n_samples, random_state=seed, **kwargs)
                return measure(samples)

        else:
            method = "predict_proba" if on == "proba" else "embed"
            output_of = capability(classifier, method, name)

            def score_chunk(_, chunk):
                return measure(output_of(chunk, **kwargs))

        return top_scores(
            classifier,
            X,
            score_chunk,
            n_instances,
            random_tie_break=random_tie_break,
            random_state=random_state,
            chunk_size=chunk_size,
            subsample=subsample,
            stochastic=stochastic,
            beta=beta,
            mixed_precision=mixed_precision,
            outputs_per_row=outputs_per_row,
            unfitted_score=unfitted_score,
        )

    strategy.__name__ = strategy.__qualname__ = name
    strategy.__doc__ = f"Query the rows with the highest {name} scores, streamed."
    return reads_row_views(strategy)
