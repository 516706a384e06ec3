"""modAL's ``modAL.dropout`` entry points, on :mod:`al_adapters.bayesian`.

``mc_dropout_bald`` and friends take modAL's arguments (``num_cycles`` dropout
passes, ``sample_per_forward_pass`` rows per pass, ``dropout_layer_indexes``,
``logits_adaptor``) and run the matching strategy of
:mod:`al_adapters.bayesian`, which streams the pool chunk by chunk:

- a :class:`~al_adapters.TorchAdapter` or :class:`~al_adapters.KerasAdapter`
  (no layer indexes, no adaptor) uses its own ``sample_proba``;
- a skorch ``NeuralNetClassifier`` (modAL's route), or a TorchAdapter with
  layer indexes or an adaptor, runs ``net.infer`` with the chosen dropout layers
  in train mode and every other layer in eval mode.

The module's outputs are turned into probabilities by a softmax over each row's
classes. modAL applies the softmax to all the values of a chunk at once (its
boolean mask flattens them), so its probabilities are neither per row nor
normalised; that is a bug, not copied. torch is imported only when a skorch net
is sampled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from al_adapters import bayesian
from al_adapters._typing import RandomStateLike, Rows

__all__ = [
    "default_logits_adaptor",
    "set_dropout_mode",
    "get_predictions",
    "entropy_sum",
    "mc_dropout_bald",
    "mc_dropout_mean_st",
    "mc_dropout_max_entropy",
    "mc_dropout_max_variationRatios",
]


def default_logits_adaptor(input_tensor: Any, samples: Rows) -> Any:
    """Return the module's output unchanged (modAL's default ``logits_adaptor``).

    Parameters
    ----------
    input_tensor : torch.Tensor of shape (n_rows, n_classes)
        The module's output for ``samples``.
    samples : array-like of shape (n_rows, ...)
        The rows it was computed from.

    Returns
    -------
    logits : torch.Tensor
        ``input_tensor``.

    Examples
    --------
    >>> from al_adapters.dropout import default_logits_adaptor
    >>> default_logits_adaptor([1.0, 2.0], None)
    [1.0, 2.0]
    """
    return input_tensor


def _is_dropout(layer):
    return type(layer).__name__.startswith(("Dropout", "AlphaDropout"))


def _dropout_layers(module, dropout_layer_indexes):
    modules = list(module.modules())
    if not dropout_layer_indexes:
        return [layer for layer in modules if _is_dropout(layer)]
    layers = []
    for index in dropout_layer_indexes:
        if not -len(modules) <= index < len(modules):
            raise ValueError(
                f"dropout_layer_indexes: {index} is not an index into "
                f"list(module.modules()), which has {len(modules)} entries"
            )
        if not _is_dropout(modules[index]):
            raise ValueError(
                f"dropout_layer_indexes: module {index} is a "
                f"{type(modules[index]).__name__}, not a dropout layer"
            )
        layers.append(modules[index])
    return layers


def set_dropout_mode(
    model: Any, dropout_layer_indexes: Sequence[int], train_mode: bool
) -> None:
    """Switch dropout layers of a torch module to train or eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        The module.
    dropout_layer_indexes : sequence of int
        Indexes into ``list(model.modules())``; empty means every dropout layer.
    train_mode : bool
        True for train mode (dropout active), False for eval mode.

    Raises
    ------
    ValueError
        If an index is out of range or is not a dropout layer (modAL raises
        KeyError).

    Examples
    --------
    >>> import torch
    >>> from al_adapters.dropout import set_dropout_mode
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    >>> _ = model.eval()
    >>> set_dropout_mode(model, [2], train_mode=True)
    >>> model[1].training, model[0].training
    (True, False)
    """
    for layer in _dropout_layers(model, dropout_layer_indexes):
        layer.train(train_mode)


class _NetSampler:
    """``sample_proba`` for a skorch net: dropout passes through ``net.infer``."""

    def __init__(self, net, owner, dropout_layer_indexes, logits_adaptor):
        self.net = net
        self.dropout_layer_indexes = list(dropout_layer_indexes)
        self.logits_adaptor = logits_adaptor
        self.progress = getattr(owner, "progress", False)
        self.classes_ = getattr(net, "classes_", None)
        _dropout_layers(net.module_, self.dropout_layer_indexes)  # fail early

    def sample_proba(self, X, n_samples, random_state=None):
        import torch

        from al_adapters.adapters._torch_inference import module_device, seeded

        module = self.net.module_
        modules = list(module.modules())
        flags = [m.training for m in modules]
        out = []
        try:
            module.eval()
            set_dropout_mode(module, self.dropout_layer_indexes, train_mode=True)
            with torch.no_grad(), seeded(random_state, module_device(module)):
                for _ in range(n_samples):
                    logits = self.logits_adaptor(self.net.infer(X), X).float()
                    # NaN marks padded classes: probability 0 after the softmax
                    logits = torch.where(torch.isnan(logits), -torch.inf, logits)
                    out.append(torch.softmax(logits, dim=-1).cpu().numpy())
        finally:
            for m, flag in zip(modules, flags, strict=True):
                m.training = flag
        return np.stack(out)


def get_predictions(
    classifier: Any,
    X: Rows,
    dropout_layer_indexes: Sequence[int] = (),
    num_cycles: int = 50,
    sample_per_forward_pass: int = 1000,
    logits_adaptor: Callable[[Any, Rows], Any] = default_logits_adaptor,
    *,
    random_state: RandomStateLike = None,
) -> list[np.ndarray]:
    """Return the class probabilities of ``num_cycles`` dropout passes over ``X``.

    Parameters
    ----------
    classifier : ActiveLearner, DeepActiveLearner or estimator
        Around a skorch net, a TorchAdapter or a KerasAdapter.
    X : array-like or tensor of shape (n_samples, ...)
        Rows to predict.
    dropout_layer_indexes : sequence of int, default=()
        Dropout layers to activate (indexes into ``list(module.modules())``);
        empty activates all of them.
    num_cycles : int, default=50
        Dropout passes.
    sample_per_forward_pass : int, default=1000
        Rows per forward pass.
    logits_adaptor : callable, default=default_logits_adaptor
        Applied to the module's output before the per-row softmax.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks.

    Returns
    -------
    predictions : list of ndarray of shape (n_samples, n_classes)
        One array of per-row probabilities per pass, as modAL returns them.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from al_adapters.dropout import get_predictions
    >>> module = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Dropout(0.5),
    ...                              torch.nn.Linear(8, 3))
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss)
    >>> _ = net.initialize()
    >>> X = np.ones((5, 2), dtype=np.float32)
    >>> predictions = get_predictions(net, X, num_cycles=4, sample_per_forward_pass=2)
    >>> len(predictions), predictions[0].shape
    (4, (5, 3))
    >>> np.allclose(predictions[0].sum(axis=1), 1)
    True
    """
    from al_adapters import _rows
    from al_adapters._monte_carlo import draw_seed
    from al_adapters._strategies import capability
    from al_adapters.selection import _make_rng

    sampler = _sampler(classifier, dropout_layer_indexes, logits_adaptor)
    sample_proba = capability(sampler, "sample_proba", "get_predictions")
    rng = _make_rng(random_state)
    parts = [
        np.asarray(sample_proba(chunk, num_cycles, random_state=draw_seed(rng)))
        for _, chunk in _rows.as_row_view(X).chunks(sample_per_forward_pass)
    ]
    return list(np.concatenate(parts, axis=1))


def entropy_sum(values: Any, axis: int = -1) -> np.ndarray:
    """Return the sum of ``-p log p`` along ``axis``, skipping NaN (padded) entries.

    Parameters
    ----------
    values : array-like
        Probabilities; NaN marks padded classes.
    axis : int, default=-1
        Axis to sum over.

    Returns
    -------
    entropy : ndarray
        ``values`` reduced over ``axis``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.dropout import entropy_sum
    >>> entropy_sum(np.array([[0.5, 0.5, np.nan], [1.0, 0.0, 0.0]]))
    array([0.69314718, 0.        ])
    """
    from scipy.special import entr

    terms = entr(np.asarray(values, dtype=np.float64))
    return np.sum(terms, where=~np.isnan(terms), axis=axis)


def _sampler(classifier, dropout_layer_indexes, logits_adaptor):
    estimator = getattr(classifier, "estimator", classifier)
    plain = not dropout_layer_indexes and logits_adaptor is default_logits_adaptor
    if plain and callable(getattr(estimator, "sample_proba", None)):
        return classifier
    net = getattr(estimator, "net_", estimator)  # TorchAdapter keeps a skorch net
    if hasattr(net, "module_") and callable(getattr(net, "infer", None)):
        return _NetSampler(net, classifier, dropout_layer_indexes, logits_adaptor)
    if not plain:
        raise TypeError(
            "dropout_layer_indexes and logits_adaptor need a torch model (a skorch "
            f"net or TorchAdapter); {type(estimator).__name__} is not one"
        )
    raise TypeError(
        "MC dropout needs an initialized skorch net, a TorchAdapter or a "
        f"KerasAdapter; {type(estimator).__name__} is none of them"
    )


def _run(
    strategy,
    classifier,
    X,
    n_instances,
    random_tie_break,
    dropout_layer_indexes,
    num_cycles,
    sample_per_forward_pass,
    logits_adaptor,
    random_state,
    mc_dropout_kwargs,
):
    if mc_dropout_kwargs:
        raise TypeError(
            f"unexpected keyword arguments {sorted(mc_dropout_kwargs)}: modAL "
            "accepts and ignores them; here they are an error"
        )
    return strategy(
        _sampler(classifier, dropout_layer_indexes, logits_adaptor),
        X,
        n_instances,
        random_tie_break,
        n_samples=num_cycles,
        random_state=random_state,
        chunk_size=sample_per_forward_pass,
    )


def mc_dropout_bald(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    dropout_layer_indexes: Sequence[int] = (),
    num_cycles: int = 50,
    sample_per_forward_pass: int = 1000,
    logits_adaptor: Callable[[Any, Rows], Any] = default_logits_adaptor,
    *,
    random_state: RandomStateLike = None,
    **mc_dropout_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest BALD over dropout passes.

    BALD is :func:`~al_adapters.bayesian.bald`: the entropy of the mean
    prediction minus the mean entropy of the passes, as in modAL.

    Parameters
    ----------
    classifier : ActiveLearner, DeepActiveLearner or estimator
        Around a skorch ``NeuralNetClassifier`` (initialized or fitted), a
        :class:`~al_adapters.TorchAdapter` or a :class:`~al_adapters.KerasAdapter`.
    X : array-like or tensor of shape (n_samples, ...)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    dropout_layer_indexes : sequence of int, default=()
        Indexes into ``list(module.modules())`` of the dropout layers to
        activate; empty activates all of them. torch models only.
    num_cycles : int, default=50
        Dropout forward passes per row.
    sample_per_forward_pass : int, default=1000
        Rows per chunk (per forward pass of a skorch net).
    logits_adaptor : callable, default=default_logits_adaptor
        ``logits_adaptor(output, rows) -> logits`` of shape ``(n_rows,
        n_classes)``, applied before the per-row softmax; NaN entries (padded
        classes) get probability 0. torch models only.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks and the tie-break.
    **mc_dropout_kwargs
        None is accepted: modAL ignores extra keywords, here they raise
        TypeError.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their BALD.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from al_adapters import DeepActiveLearner
    >>> from al_adapters.dropout import mc_dropout_bald
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> module = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 3)
    ... )
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
    ...                           max_epochs=2, train_split=None, verbose=0)
    >>> learner = DeepActiveLearner(net, query_strategy=mc_dropout_bald)
    >>> X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    >>> learner.teach(X, np.arange(30) % 3)
    >>> query_idx, query_rows = learner.query(
    ...     X, n_instances=2, num_cycles=5, dropout_layer_indexes=[2], random_state=0
    ... )
    >>> query_idx.shape
    (2,)
    """
    return _run(
        bayesian.bald_sampling,
        classifier,
        X,
        n_instances,
        random_tie_break,
        dropout_layer_indexes,
        num_cycles,
        sample_per_forward_pass,
        logits_adaptor,
        random_state,
        mc_dropout_kwargs,
    )


def mc_dropout_mean_st(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    dropout_layer_indexes: Sequence[int] = (),
    num_cycles: int = 50,
    sample_per_forward_pass: int = 1000,
    logits_adaptor: Callable[[Any, Rows], Any] = default_logits_adaptor,
    *,
    random_state: RandomStateLike = None,
    **mc_dropout_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose class probabilities vary most over dropout passes.

    The score is :func:`~al_adapters.bayesian.mean_std`: the mean over classes
    of the standard deviation over passes, as in modAL.

    Parameters
    ----------
    classifier : ActiveLearner, DeepActiveLearner or estimator
        Around a skorch ``NeuralNetClassifier`` (initialized or fitted), a
        :class:`~al_adapters.TorchAdapter` or a :class:`~al_adapters.KerasAdapter`.
    X : array-like or tensor of shape (n_samples, ...)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    dropout_layer_indexes : sequence of int, default=()
        Indexes into ``list(module.modules())`` of the dropout layers to
        activate; empty activates all of them. torch models only.
    num_cycles : int, default=50
        Dropout forward passes per row.
    sample_per_forward_pass : int, default=1000
        Rows per chunk (per forward pass of a skorch net).
    logits_adaptor : callable, default=default_logits_adaptor
        ``logits_adaptor(output, rows) -> logits`` of shape ``(n_rows,
        n_classes)``, applied before the per-row softmax; NaN entries (padded
        classes) get probability 0. torch models only.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks and the tie-break.
    **mc_dropout_kwargs
        None is accepted: modAL ignores extra keywords, here they raise
        TypeError.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their mean standard deviation.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from al_adapters import DeepActiveLearner
    >>> from al_adapters.dropout import mc_dropout_mean_st
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> module = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 3)
    ... )
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
    ...                           max_epochs=2, train_split=None, verbose=0)
    >>> learner = DeepActiveLearner(net, query_strategy=mc_dropout_mean_st)
    >>> X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    >>> learner.teach(X, np.arange(30) % 3)
    >>> query_idx, query_rows = learner.query(
    ...     X, n_instances=2, num_cycles=5, dropout_layer_indexes=[2], random_state=0
    ... )
    >>> query_idx.shape
    (2,)
    """
    return _run(
        bayesian.mean_std_sampling,
        classifier,
        X,
        n_instances,
        random_tie_break,
        dropout_layer_indexes,
        num_cycles,
        sample_per_forward_pass,
        logits_adaptor,
        random_state,
        mc_dropout_kwargs,
    )


def mc_dropout_max_entropy(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    dropout_layer_indexes: Sequence[int] = (),
    num_cycles: int = 50,
    sample_per_forward_pass: int = 1000,
    logits_adaptor: Callable[[Any, Rows], Any] = default_logits_adaptor,
    *,
    random_state: RandomStateLike = None,
    **mc_dropout_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows whose mean prediction over dropout passes has the highest entropy.

    The score is :func:`~al_adapters.bayesian.max_entropy`, ``H(mean_t p_t)``
    (Gal et al. 2017). modAL instead averages over classes the entropy terms
    summed over passes, which is the passes' mean entropy scaled by
    ``num_cycles / n_classes``.

    Parameters
    ----------
    classifier : ActiveLearner, DeepActiveLearner or estimator
        Around a skorch ``NeuralNetClassifier`` (initialized or fitted), a
        :class:`~al_adapters.TorchAdapter` or a :class:`~al_adapters.KerasAdapter`.
    X : array-like or tensor of shape (n_samples, ...)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    dropout_layer_indexes : sequence of int, default=()
        Indexes into ``list(module.modules())`` of the dropout layers to
        activate; empty activates all of them. torch models only.
    num_cycles : int, default=50
        Dropout forward passes per row.
    sample_per_forward_pass : int, default=1000
        Rows per chunk (per forward pass of a skorch net).
    logits_adaptor : callable, default=default_logits_adaptor
        ``logits_adaptor(output, rows) -> logits`` of shape ``(n_rows,
        n_classes)``, applied before the per-row softmax; NaN entries (padded
        classes) get probability 0. torch models only.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks and the tie-break.
    **mc_dropout_kwargs
        None is accepted: modAL ignores extra keywords, here they raise
        TypeError.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their predictive entropy.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from al_adapters import DeepActiveLearner
    >>> from al_adapters.dropout import mc_dropout_max_entropy
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> module = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 3)
    ... )
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
    ...                           max_epochs=2, train_split=None, verbose=0)
    >>> learner = DeepActiveLearner(net, query_strategy=mc_dropout_max_entropy)
    >>> X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    >>> learner.teach(X, np.arange(30) % 3)
    >>> query_idx, query_rows = learner.query(
    ...     X, n_instances=2, num_cycles=5, dropout_layer_indexes=[2], random_state=0
    ... )
    >>> query_idx.shape
    (2,)
    """
    return _run(
        bayesian.max_entropy_sampling,
        classifier,
        X,
        n_instances,
        random_tie_break,
        dropout_layer_indexes,
        num_cycles,
        sample_per_forward_pass,
        logits_adaptor,
        random_state,
        mc_dropout_kwargs,
    )


def mc_dropout_max_variationRatios(
    classifier: Any,
    X: Rows,
    n_instances: int = 1,
    random_tie_break: bool = False,
    dropout_layer_indexes: Sequence[int] = (),
    num_cycles: int = 50,
    sample_per_forward_pass: int = 1000,
    logits_adaptor: Callable[[Any, Rows], Any] = default_logits_adaptor,
    *,
    random_state: RandomStateLike = None,
    **mc_dropout_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Query the rows with the highest variation ratio over dropout passes.

    The score is :func:`~al_adapters.bayesian.var_ratios`: the share of passes
    that do not vote for the modal class (Gal et al. 2017). modAL instead
    takes one minus the largest mean probability.

    Parameters
    ----------
    classifier : ActiveLearner, DeepActiveLearner or estimator
        Around a skorch ``NeuralNetClassifier`` (initialized or fitted), a
        :class:`~al_adapters.TorchAdapter` or a :class:`~al_adapters.KerasAdapter`.
    X : array-like or tensor of shape (n_samples, ...)
        The pool to choose from.
    n_instances : int, default=1
        How many rows to query.
    random_tie_break : bool, default=False
        Break ties between equal scores at random instead of by lowest index.
    dropout_layer_indexes : sequence of int, default=()
        Indexes into ``list(module.modules())`` of the dropout layers to
        activate; empty activates all of them. torch models only.
    num_cycles : int, default=50
        Dropout forward passes per row.
    sample_per_forward_pass : int, default=1000
        Rows per chunk (per forward pass of a skorch net).
    logits_adaptor : callable, default=default_logits_adaptor
        ``logits_adaptor(output, rows) -> logits`` of shape ``(n_rows,
        n_classes)``, applied before the per-row softmax; NaN entries (padded
        classes) get probability 0. torch models only.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the dropout masks and the tie-break.
    **mc_dropout_kwargs
        None is accepted: modAL ignores extra keywords, here they raise
        TypeError.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X`` to label, best first.
    scores : ndarray of shape (n_instances,)
        Their variation ratio.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from al_adapters import DeepActiveLearner
    >>> from al_adapters.dropout import mc_dropout_max_variationRatios
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> module = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 3)
    ... )
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
    ...                           max_epochs=2, train_split=None, verbose=0)
    >>> learner = DeepActiveLearner(net, query_strategy=mc_dropout_max_variationRatios)
    >>> X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    >>> learner.teach(X, np.arange(30) % 3)
    >>> query_idx, query_rows = learner.query(
    ...     X, n_instances=2, num_cycles=5, dropout_layer_indexes=[2], random_state=0
    ... )
    >>> query_idx.shape
    (2,)
    """
    return _run(
        bayesian.var_ratios_sampling,
        classifier,
        X,
        n_instances,
        random_tie_break,
        dropout_layer_indexes,
        num_cycles,
        sample_per_forward_pass,
        logits_adaptor,
        random_state,
        mc_dropout_kwargs,
    )
