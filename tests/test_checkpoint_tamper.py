"""Damaged and tampered checkpoints are refused with a clear error, and run no code.

The payloads write a marker file when their module is imported, when their
class is built or when they are unpickled; each test checks that the marker
does not exist afterwards (and, where it can, that the payload is live).
"""

import contextlib
import hashlib
import io
import json
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from al_adapters import ActiveLearner, Pool
from al_adapters.checkpoint import CheckpointError, UntrustedCheckpointError
from tests.checkpoint_models import Tiny

PAYLOAD = """
from pathlib import Path
from sklearn.base import BaseEstimator, ClassifierMixin

MARKER = Path({marker!r})
MARKER.write_text("imported")


class Payload(BaseEstimator, ClassifierMixin):
    def __init__(self, **kwargs):
        MARKER.write_text("built")

    def fit(self, X, y):
        self.classes_ = sorted(set(y))
        return self


def attack(*args, **kwargs):
    MARKER.write_text("called")
"""


@pytest.fixture
def payload(tmp_path, monkeypatch):
    """An importable module ``evil_payload``; returns the marker it would write."""
    marker = tmp_path / "marker"
    package = tmp_path / "payloads"
    package.mkdir()
    (package / "evil_payload.py").write_text(PAYLOAD.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(package))
    yield marker
    sys.modules.pop("evil_payload", None)


def assert_nothing_ran(marker):
    assert not marker.exists(), marker.read_text()
    assert "evil_payload" not in sys.modules


def rewrite(path, manifest=None, members=None, fix_checksums=True):
    """Rewrite a checkpoint zip: edit its manifest, replace members."""
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    tree = json.loads(files["checkpoint.json"])
    for name, data in (members or {}).items():
        files[name] = data
        if fix_checksums:
            tree["sha256"][name] = hashlib.sha256(data).hexdigest()
    if manifest is not None:
        manifest(tree["contents"])
    files["checkpoint.json"] = json.dumps(tree).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.fixture
def iris():
    X, y = load_iris(return_X_y=True)
    keep = y < 2
    return X[keep], y[keep]


@pytest.fixture
def tiny_checkpoint(iris, tmp_path):
    X, y = iris
    learner = ActiveLearner(Tiny(), X_training=X[::10], y_training=y[::10])
    path = tmp_path / "tiny.alc"
    learner.save(path)
    return path, learner


def test_the_untampered_checkpoint_loads_when_its_class_is_trusted(
    tiny_checkpoint, iris
):
    path, learner = tiny_checkpoint
    with pytest.raises(UntrustedCheckpointError, match=r"checkpoint_models\.Tiny"):
        ActiveLearner.load(path)
    loaded = ActiveLearner.load(path, trusted=[Tiny])
    np.testing.assert_array_equal(
        loaded.predict_proba(iris[0]), learner.predict_proba(iris[0])
    )
    loaded = ActiveLearner.load(path, trusted=["tests.checkpoint_models.Tiny"])
    assert isinstance(loaded.estimator, Tiny)


@pytest.mark.parametrize("where", ["estimator class", "query strategy", "parameter"])
def test_a_class_that_is_not_trusted_is_refused_before_import(
    tiny_checkpoint, payload, where
):
    path, _ = tiny_checkpoint
    evil = {"$type": "import", "module": "evil_payload", "qualname": "Payload"}

    def edit(contents):
        learner = contents["object"]
        if where == "estimator class":
            learner["estimator"]["spec"]["class"] = evil
        elif where == "query strategy":
            learner["query_strategy"] = {**evil, "qualname": "attack"}
        else:
            learner["estimator"]["spec"]["params"]["items"]["scale"] = evil

    rewrite(path, manifest=edit)
    with pytest.raises(UntrustedCheckpointError, match="evil_payload") as error:
        ActiveLearner.load(path, trusted=[Tiny])
    assert "not trusted" in str(error.value)
    assert_nothing_ran(payload)
    # the payload is live: trusting it imports it
    trusted = [Tiny, "evil_payload.Payload", "evil_payload.attack"]
    with contextlib.suppress(CheckpointError, TypeError):
        ActiveLearner.load(path, trusted=trusted)
    assert payload.exists()


def test_a_standard_library_function_is_refused(tiny_checkpoint, tmp_path):
    path, _ = tiny_checkpoint
    marker = tmp_path / "system-ran"

    def edit(contents):
        contents["object"]["query_strategy"] = {
            "$type": "import",
            "module": "os",
            "qualname": "system",
        }
        contents["object"]["config"]["items"]["progress"] = f"touch {marker}"

    rewrite(path, manifest=edit)
    with pytest.raises(UntrustedCheckpointError, match=r"os\.system"):
        ActiveLearner.load(path, trusted=[Tiny])
    assert not marker.exists()


class _Boom:
    """Unpickling it writes the marker."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "unpickled"))


def test_a_pickle_in_an_array_member_is_refused(tiny_checkpoint, tmp_path):
    path, _ = tiny_checkpoint
    marker = tmp_path / "unpickled"
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Boom(str(marker))], dtype=object), allow_pickle=True)
    pickled = buffer.getvalue()
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("checkpoint.json"))
    member = manifest["contents"]["object"]["estimator"]["arrays"]["w"]
    rewrite(path, members={member: pickled})
    with pytest.raises(CheckpointError, match="allow_pickle=False"):
        ActiveLearner.load(path, trusted=[Tiny])
    assert not marker.exists()
    # the payload is live
    np.load(io.BytesIO(pickled), allow_pickle=True)
    assert marker.exists()


def test_a_skops_estimator_with_an_untrusted_type_is_refused(iris, payload, tmp_path):
    pytest.importorskip("skops")
    X, y = iris
    import evil_payload

    learner = ActiveLearner(
        evil_payload.Payload(), X_training=X[::10], y_training=y[::10]
    )
    learner.save(tmp_path / "evil.alc")
    payload.unlink()
    del sys.modules["evil_payload"], evil_payload
    with pytest.raises(UntrustedCheckpointError, match=r"evil_payload\.Payload"):
        ActiveLearner.load(tmp_path / "evil.alc")
    assert_nothing_ran(payload)


def test_a_changed_member_fails_its_checksum(tiny_checkpoint):
    path, _ = tiny_checkpoint
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("checkpoint.json"))
    member = manifest["contents"]["object"]["X"]["member"]
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((10, 4)))
    rewrite(path, members={member: buffer.getvalue()}, fix_checksums=False)
    with pytest.raises(CheckpointError, match="checksum"):
        ActiveLearner.load(path, trusted=[Tiny])


def test_a_flipped_byte_is_caught(tiny_checkpoint):
    path, _ = tiny_checkpoint
    data = bytearray(path.read_bytes())
    at = data.index(b"\x93NUMPY") + 200  # inside the first array's data
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="arrays/"):
        ActiveLearner.load(path, trusted=[Tiny])


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, 0.9, -1])
def test_a_truncated_file_is_refused(tiny_checkpoint, keep):
    path, _ = tiny_checkpoint
    data = path.read_bytes()
    n = keep if isinstance(keep, int) and keep >= 0 else len(data) + keep
    if isinstance(keep, float):
        n = int(len(data) * keep)
    path.write_bytes(data[:n])
    with pytest.raises(CheckpointError, match="not a readable al_adapters checkpoint"):
        ActiveLearner.load(path, trusted=[Tiny])


def test_missing_and_foreign_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        ActiveLearner.load(tmp_path / "nothing.alc")
    (tmp_path / "text.alc").write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable"):
        ActiveLearner.load(tmp_path / "text.alc")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("checkpoint.json", json.dumps({"format": "something/2"}))
    with pytest.raises(CheckpointError, match="something/2"):
        ActiveLearner.load(tmp_path / "other.zip")
    pool = Pool(np.zeros((5, 1)))
    pool.save(tmp_path / "pool.alc")
    with pytest.raises(CheckpointError, match="holds a pool checkpoint, not a learner"):
        ActiveLearner.load(tmp_path / "pool.alc")


def test_pickle_never_loads_anything(tiny_checkpoint, monkeypatch):
    """Loading goes through no unpickler at all."""
    path, _ = tiny_checkpoint

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    ActiveLearner.load(path, trusted=[Tiny])


def test_a_failed_load_into_a_learner_changes_nothing(iris, tmp_path):
    """A state that fails halfway through loading is undone."""
    X, y = iris
    path = tmp_path / "run.alc"
    from al_adapters import run

    learner = ActiveLearner(Tiny(), X_training=X[::10], y_training=y[::10])
    run(
        learner,
        Pool(X, labelled=np.arange(0, len(X), 10)),
        y,
        rounds=2,
        checkpoint=path,
    )

    class Fragile(Tiny):
        def load_state_dict(self, state):
            self.w_ = state.arrays["w"].copy()  # a partial change, then failure
            raise RuntimeError("the device ran out of memory")

    target = ActiveLearner(Fragile(), X_training=X[::7], y_training=y[::7])
    target.timings_ = [{"fit": 0.5}]
    pool = Pool(X, labelled=np.arange(0, len(X), 7))
    before = target.estimator.w_.copy(), target.X_training.copy(), pool.rounds.copy()
    with pytest.raises(RuntimeError, match="out of memory"):
        run(target, pool, y, rounds=3, checkpoint=path, resume=True)
    np.testing.assert_array_equal(target.estimator.w_, before[0])
    np.testing.assert_array_equal(target.X_training, before[1])
    np.testing.assert_array_equal(pool.rounds, before[2])
    assert target.timings_ == [{"fit": 0.5}]


def test_a_learner_checkpoint_is_not_a_run_checkpoint(tiny_checkpoint, iris):
    path, learner = tiny_checkpoint
    from al_adapters import run

    with pytest.raises(CheckpointError, match="not a checkpoint of a run"):
        run(learner, Pool(iris[0]), iris[1], rounds=1, checkpoint=path, resume=True)
