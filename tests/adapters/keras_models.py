"""Tiny Keras models for the adapter tests (module level, so adapters pickle)."""

import keras


def build_mlp(n_features=4, n_classes=3, hidden=16, dropout=0.0, batchnorm=False):
    """Dense, optional BatchNormalization, ReLU, Dropout, Dense with softmax."""
    inputs = keras.Input((n_features,))
    x = keras.layers.Dense(hidden)(inputs)
    if batchnorm:
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def build_from_meta(meta, hidden=8):
    """An MLP sized from scikeras' ``meta``: any number of features and classes."""
    inputs = keras.Input((meta["n_features_in_"],))
    x = keras.layers.Dense(hidden, activation="relu")(inputs)
    outputs = keras.layers.Dense(meta["n_classes_"], activation="softmax")(x)
    return keras.Model(inputs, outputs)
