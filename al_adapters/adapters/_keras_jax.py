"""Keras models on JAX: jit-compiled calls on chunks padded to a few sizes.

An eager Keras call on JAX dispatches the operations of every layer one by one;
a jit-compiled ``model.stateless_call`` runs the whole model as one XLA program
(on two CPU cores, 0.43 s instead of 0.66 s for 65,536 rows through a
64-256-256-10 MLP). Compiling costs about 0.4 s per input shape, so a chunk is
padded with zero rows up to a multiple of ``1 / SHAPE_STEPS`` of the chunk size:
a pool that shrinks between queries reuses the compiled program. Rows are
scored independently (BatchNormalization runs on its moving statistics), so the
padding changes no score.

Dropout draws its masks from the model's seed generators, whose states are
non-trainable variables: the compiled call takes them and returns them advanced,
and only they are written back to the model, so no weight or statistic changes.
"""

import weakref

import jax
import keras

from al_adapters.adapters import _keras_inference as inference

#: Padded chunks are a multiple of this fraction of the chunk size.
SHAPE_STEPS = 16

# model -> {(training, logits): compiled call}; the calls hold the model weakly.
_CALLS: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()


def padded_rows(n, step):
    """Return the rows a chunk of ``n`` rows is padded to, for chunks of ``step``."""
    granule = -(-step // SHAPE_STEPS)
    return max(n, min(step, -(-n // granule) * granule))


def on_model_device(model, x):
    """Return the JAX array ``x`` on the device of the weights of ``model``."""
    device = model_device(model)
    return x if device is None else jax.device_put(x, device)


def model_device(model):
    """Return the JAX device holding the weights of ``model`` (None: JAX's default)."""
    for weight in model.weights:
        return next(iter(weight.value.devices()))
    return None


def _compiled(model, training, logits):
    calls = _CALLS.setdefault(model, {})
    # A call traced under one precision keeps it: the policies are in the key.
    key = (
        training,
        logits,
        tuple(layer.dtype_policy.name for layer in inference._layers(model)),
    )
    if key not in calls:
        owner = weakref.ref(model)

        def call(trainable, non_trainable, x):
            out, non_trainable = owner().stateless_call(
                trainable, non_trainable, x, training=training
            )
            return inference.probabilities(out, logits), non_trainable

        calls[key] = jax.jit(call)
    return calls[key]


def outputs(model, x, *, n_samples, training, logits, step):
    """Return the probabilities of one chunk, ``(n, C)`` or ``(n_samples, n, C)``.

    Parameters
    ----------
    model : keras.Model
        The model to call.
    x : jax.Array of shape (n, ...)
        Float32 rows on the model's device.
    n_samples : int or None
        Passes to run; None runs one and returns ``(n, C)``.
    training : bool
        Passed to the model (dropout on for MC sampling).
    logits : bool
        Apply a softmax to the model's outputs.
    step : int
        Rows per chunk, from which the padded sizes follow.
    """
    n = x.shape[0]
    rows = padded_rows(n, step)
    if rows > n:
        padding = keras.ops.zeros((rows - n, *x.shape[1:]), dtype=x.dtype)
        x = keras.ops.concatenate([x, padding])
    call = _compiled(model, training, logits)
    variables = model.non_trainable_variables
    trainable = [v.value for v in model.trainable_variables]
    state = [v.value for v in variables]
    passes = []
    for _ in range(n_samples or 1):
        proba, state = call(trainable, state, x)
        passes.append(proba[:n])
    if training:
        seeds = {id(v) for v in inference._seed_states(model)}
        for variable, value in zip(variables, state, strict=True):
            if id(variable) in seeds:
                variable.assign(value)
    return passes[0] if n_samples is None else keras.ops.stack(passes)
