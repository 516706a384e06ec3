"""Every built-in measure gives the textbook numbers on NumPy, torch and TensorFlow.

The expected values come from the formulas written out below, row by row in
float64, on arrays of uneven sizes; the result must stay in the input's library
(and on its device), and inputs in float16 or bfloat16 must be scored in float32.
"""

import math

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


def _h(p):
    return -sum(x * math.log(x) for x in p if x > 0)


def _rows(proba):
    return [list(map(float, row)) for row in np.asarray(proba)]


def _passes(samples):
    # (n_passes, n_rows, n_classes) -> per row, the list of its passes
    samples = np.asarray(samples, dtype=np.float64)
    return [_rows(samples[:, i, :]) for i in range(samples.shape[1])]


def _mean(passes):
    return [sum(column) / len(passes) for column in zip(*passes, strict=True)]


def _std(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _vote(p):
    return max(range(len(p)), key=lambda c: (p[c], -c))  # first class on ties


def _var_ratio(passes):
    votes = [_vote(p) for p in passes]
    return 1 - max(votes.count(c) for c in set(votes)) / len(passes)


def _kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)


REFERENCES = {
    least_confidence: lambda proba: [1 - max(p) for p in _rows(proba)],
    margin: lambda proba: [
        sorted(p)[-1] - sorted(p)[-2] if len(p) > 1 else 0.0 for p in _rows(proba)
    ],
    entropy: lambda proba: [_h(p) for p in _rows(proba)],
    bald: lambda s: [
        max(_h(_mean(ps)) - sum(map(_h, ps)) / len(ps), 0.0) for ps in _passes(s)
    ],
    max_entropy: lambda s: [_h(_mean(ps)) for ps in _passes(s)],
    var_ratios: lambda s: [_var_ratio(ps) for ps in _passes(s)],
    mean_std: lambda s: [
        sum(_std(column) for column in zip(*ps, strict=True)) / len(ps[0])
        for ps in _passes(s)
    ],
    max_kl_divergence: lambda vote_proba: [
        max(_kl(p, _mean(members)) for p in members)
        for members in _passes(np.swapaxes(vote_proba, 0, 1))
    ],
}


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
WITH_NUMPY = {"numpy": np.asarray, **LIBRARIES}


def _check_same(measure, array, lib):
    expected = REFERENCES[measure](array)
    converted = WITH_NUMPY[lib](array)
    result = measure(converted)
    assert type(result) is type(converted) or _backend.is_tensorflow(result)
    assert str(_backend.device(result)) == str(_backend.device(converted))
    assert_allclose(_backend.to_numpy(result), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("lib", sorted(WITH_NUMPY))
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


@pytest.mark.parametrize("lib", sorted(WITH_NUMPY))
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


@pytest.mark.parametrize("lib", sorted(WITH_NUMPY))
def test_committee_disagreement_agrees(lib, rng):
    vote_proba = _normalise(rng.uniform(size=(13, 3, 5)))  # 13 rows, 3 members
    _check_same(max_kl_divergence, vote_proba, lib)


@needs_a_library
@pytest.mark.parametrize("lib", sorted(LIBRARIES))
@pytest.mark.parametrize(
    "measure", PROBA_MEASURES + SAMPLE_MEASURES, ids=lambda f: f.__name__
)
def test_narrow_precision_is_scored_in_float32(measure, lib, rng):
    torch = pytest.importorskip("torch") if lib.startswith("torch") else None
    shape = (50, 7) if measure in PROBA_MEASURES else (6, 50, 7)
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
    expected = REFERENCES[measure](rounded)
    assert_allclose(_backend.to_numpy(result), expected, rtol=1e-4, atol=1e-5)
