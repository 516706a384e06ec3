"""The private parts of Keras (and TensorFlow) that the adapter relies on.

``keras.utils.set_random_seed`` has no inverse: it stores a global seed and
drops the global ``SeedGenerator`` in Keras' global state, and sets
TensorFlow's global seed. :func:`global_seeds` and :func:`restore_global_seeds`
read and put back exactly those, so that a seeded call leaves them as it found
them. ``tests/adapters/test_keras_shim.py`` fails loudly when a Keras or
TensorFlow release moves them.
"""

import sys

from keras.src.backend.common import global_state
from keras.src.random import seed_generator
from keras.src.utils import rng_utils

#: The names under which Keras keeps its global seed state.
KERAS_SEED_ATTRIBUTES = (
    rng_utils.GLOBAL_RANDOM_SEED,
    seed_generator.GLOBAL_SEED_GENERATOR,
)


_MISSING = object()


def _tf_context():
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    from tensorflow.python.eager import context

    return context.context()


def global_seeds():
    """Return Keras' global seed state and TensorFlow's eager seed state."""
    keras_state = tuple(
        global_state.get_global_attribute(name) for name in KERAS_SEED_ATTRIBUTES
    )
    ctx = _tf_context()
    tf_state = None if ctx is None else (ctx._seed, vars(ctx).get("_rng", _MISSING))
    return keras_state, tf_state


def restore_global_seeds(saved):
    """Put back what :func:`global_seeds` returned."""
    keras_state, tf_state = saved
    for name, value in zip(KERAS_SEED_ATTRIBUTES, keras_state, strict=True):
        global_state.set_global_attribute(name, value)
    ctx = _tf_context()
    if ctx is not None and tf_state is not None:
        ctx._seed = tf_state[0]
        if tf_state[1] is _MISSING:
            vars(ctx).pop("_rng", None)
        else:
            ctx._rng = tf_state[1]
