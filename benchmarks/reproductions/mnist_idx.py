"""MNIST from a directory of IDX files, checksums verified, nothing downloaded.

The four files of the standard distribution are read gzip-compressed
(``train-images-idx3-ubyte.gz``) or uncompressed (``train-images.idx3-ubyte``,
``train-images-idx3-ubyte``); the SHA-256 of the uncompressed bytes must match
the canonical values below.
"""

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np

#: Where the data lives when the repository is checked out next to ``shared/``.
DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
#: Environment variable that overrides :data:`DEFAULT_DIR`.
ENV_VAR = "AL_ADAPTERS_MNIST_DIR"

#: SHA-256 of each uncompressed file.
SHA256 = {
    "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_IDX_DTYPES = {0x08: np.uint8}


class MissingDataError(FileNotFoundError):
    """The MNIST files are not in the data directory."""


def data_dir(given=None):
    """Return the directory of the MNIST files.

    ``given``, else ``$AL_ADAPTERS_MNIST_DIR``, else ``../shared/data/mnist``
    beside the repository.
    """
    if given:
        return Path(given)
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


def _find(directory, name):
    kind = name.rsplit("-", 1)[1]  # "images" or "labels"
    suffix = "idx3-ubyte" if kind == "images" else "idx1-ubyte"
    for candidate in (
        f"{name}-{suffix}.gz",
        f"{name}-{suffix}",
        f"{name}.{suffix}",
        f"{name}.{suffix}.gz",
    ):
        path = directory / candidate
        if path.is_file():
            return path
    raise MissingDataError(
        f"MNIST file {name}-{suffix}(.gz) not found in {directory}. Put the four "
        "MNIST IDX files there, or point --data-dir (or the environment variable "
        f"{ENV_VAR}) to a directory that has them."
    )


def read_idx(path, expected_sha256=None):
    """Return the array stored in IDX file ``path`` (gzip-compressed or not).

    Raises ValueError when ``expected_sha256`` is given and the uncompressed
    bytes do not match it.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as file:
        raw = file.read()
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise ValueError(
                f"{path} has SHA-256 {digest}, expected {expected_sha256}: the file "
                "is corrupt or not the standard MNIST"
            )
    zero, dtype_code, n_dims = raw[0] | raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)
    )
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[dtype_code], offset=4 + 4 * n_dims)
    return data.reshape(shape)


def load_mnist(directory=None):
    """Return ``(X_train, y_train, X_test, y_test)`` as uint8 arrays.

    Images have shape (n, 28, 28), labels (n,). Raises
    :class:`MissingDataError` when a file is absent and ValueError when a
    checksum does not match.
    """
    directory = data_dir(directory)
    arrays = [
        read_idx(_find(directory, name), SHA256[name])
        for name in ("train-images", "train-labels", "t10k-images", "t10k-labels")
    ]
    return tuple(arrays)
