"""Every built-in measure gives NumPy's numbers on torch and TensorFlow inputs.

The result must stay in the input's library (and on its device), and inputs in
float16 or bfloat16 must be scored in float32.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from al_adapters import _backend
from al_adapters.bayesian import bald, max_entropy, mean_std, var_ratios
from al_adapters.disagreement import max_kl_divergence
from al_adapters.uncertainty import entropy, least_confidence, margin

PROBA_MEASURES = [least_confidence, margin, entropy]
SAMPLE_MEASURES = [bald, var_ratios, mean_std, max_entropy]


def _normalise(raw, axis=-1):
    raw = raw + 1e-3
    return raw / raw.sum(axis=axis, keepdims=True)


def _libraries():
    converters = {}
    try:
        import torch

        converters["torch"] = torch.from_numpy
        if torch.cuda.is_available():
            converters["torch-cuda"] = lambda a: torch.from_numpy(a).cuda()
    except ImportError:
        pass
    try:
        import tensorflow as tf

        converters["tensorflow"] = tf.constant
    except ImportError:
        pass
    return converters


LIBRARIES = _libraries()
needs_a_library = pytest.mark.skipif(
    not LIBRARIES, reason="neither torch nor TensorFlow is installed"
)


def _check_same(measure, array, lib):
    expected = measure(array)
    converted = LIBRARIES[lib](array)
    result = measure(converted)
    assert type(result) is type(converted) or _backend.is_tensorflow(result)
    assert str(_backend.device(result)) == str(_backend.device(converted))
    assert_allclose(_backend.to_numpy(result), expected, rtol=1e-5, atol=1e-6)


@needs_a_library
@pytest.mark.parametrize("lib", sorted(LIBRARIES))
@pytest.mark.parametrize("measure", PROBA_MEASURES, ids=lambda f: f.__name__)
@settings(max_examples=25, deadline=None)
@given(
    raw=arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 6)),
        elements=st.floats(0, 1),
    )
)
def test_probability_measures_agree(measure, lib, raw):
    _check_same(measure, _normalise(raw), lib)


@needs_a_library
@pytest.mark.parametrize("lib", sorted(LIBRARIES))
@pytest.mark.parametrize("measure", SAMPLE_MEASURES, ids=lambda f: f.__name__)
@settings(max_examples=25, deadline=None)
@given(
    raw=arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 10), st.integers(1, 5)),
        elements=st.floats(0, 1),
    )
)
def test_sample_measures_agree(measure, lib, raw):
    _check_same(measure, _normalise(raw), lib)


@needs_a_library
@pytest.mark.parametrize("lib", sorted(LIBRARIES))
def test_committee_disagreement_agrees(lib, rng):
    vote_proba = _normalise(rng.uniform(size=(20, 3, 4)))
    _check_same(max_kl_divergence, vote_proba, lib)


@needs_a_library
@pytest.mark.parametrize("lib", sorted(LIBRARIES))
@pytest.mark.parametrize(
    "measure", PROBA_MEASURES + SAMPLE_MEASURES, ids=lambda f: f.__name__
)
def test_narrow_precision_is_scored_in_float32(measure, lib, rng):
    torch = pytest.importorskip("torch") if lib.startswith("torch") else None
    shape = (50, 10) if measure in PROBA_MEASURES else (8, 50, 10)
    proba = _normalise(rng.uniform(size=shape)).astype(np.float32)
    if torch is not None:
        narrow = LIBRARIES[lib](proba).to(torch.bfloat16)
    else:
        import tensorflow as tf

        narrow = tf.cast(tf.constant(proba), tf.float16)
    result = measure(narrow)
    assert _backend.to_numpy(result).dtype == np.float32
    assert "float32" in str(result.dtype)
    # the same numbers as the float64 reference on the rounded probabilities
    rounded = _backend.to_numpy(_backend.at_least_float32(narrow)).astype(np.float64)
    assert_allclose(_backend.to_numpy(result), measure(rounded), rtol=1e-4, atol=1e-5)
