"""The private methods of scikeras' ``KerasClassifier`` that the adapter calls.

scikeras 0.13 is the last release of an unmaintained project; its public
``fit``/``partial_fit`` re-infer the classes from each call's ``y`` and cannot
set the epochs of one call, so the adapter calls the three private steps they
are made of. ``tests/adapters/test_keras_shim.py`` fails loudly when a scikeras
release changes them.
"""

import numpy as np


def initialize(wrapper, X, codes, n_classes):
    """Build and compile the model of ``wrapper`` for ``n_classes`` fixed classes.

    Returns whether the model came compiled (by its build function, or as a
    compiled instance), in which case scikeras leaves its compile settings be.
    """
    # scikeras infers the classes from y unless classes_ is set beforehand;
    # with it set, the build function's meta holds n_classes_ == n_classes.
    wrapper.classes_ = np.arange(n_classes)
    wrapper._initialize(X, codes)
    came_compiled = bool(wrapper.model_.compiled)
    wrapper._ensure_compiled_model()
    return came_compiled


def train(wrapper, X, codes, sample_weight, epochs, fit_params=None):
    """Train ``epochs`` epochs from the current weights and optimizer state.

    ``fit_params`` are Keras ``fit`` keywords for this call only; its
    ``callbacks`` run after the wrapper's own.
    """
    fit_params = dict(fit_params or {})
    callbacks = fit_params.pop("callbacks", None)
    # scikeras drops per-call callbacks and passes its own list to Keras.
    own = wrapper._fit_callbacks
    if callbacks:
        wrapper._fit_callbacks = [*own, *callbacks]
    try:
        wrapper._fit(
            X,
            codes,
            sample_weight=sample_weight,
            warm_start=True,
            epochs=epochs,
            initial_epoch=wrapper.current_epoch,
            **fit_params,
        )
    finally:
        wrapper._fit_callbacks = own
