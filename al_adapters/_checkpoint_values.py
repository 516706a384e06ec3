"""Values in a checkpoint: JSON trees whose arrays, generators and code are tagged.

Encoding turns a Python value into JSON plus arrays of a
:class:`~al_adapters._checkpoint_file.Contents`; decoding turns it back without
running any code the caller did not trust. Tags are dicts with a ``"$type"``:

- ``array``: a NumPy array (``object`` arrays of strings become fixed-width
  strings and come back as ``object``);
- ``tuple``, ``dict``, ``scalar`` (a NumPy scalar), ``generator`` and
  ``random_state`` (NumPy random generators, with their state);
- ``sparse``, ``torch`` and ``frame``: training rows as SciPy sparse matrices,
  torch tensors and pandas DataFrames;
- ``import``: a class or function, by module and qualified name. Decoding it
  imports the module only if the name is trusted (:mod:`._checkpoint_trust`).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import scipy.sparse as sp

from al_adapters import _backend
from al_adapters._checkpoint_file import CheckpointError, Contents, Reader


class Unencodable(TypeError):
    """A value a checkpoint cannot hold without pickle."""


def encode(value: Any, contents: Contents, where: str = "value") -> Any:
    """Return ``value`` as a JSON tree; its arrays go to ``contents``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode(v, contents, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        items = [encode(v, contents, f"{where}[{i}]") for i, v in enumerate(value)]
        return {"$type": "tuple", "items": items}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise Unencodable(f"{where} is a dict whose keys are not all strings")
        mapping = {k: encode(v, contents, f"{where}[{k!r}]") for k, v in value.items()}
        return {"$type": "dict", "items": mapping}
    if isinstance(value, np.generic):
        return {"$type": "scalar", "dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, np.ndarray):
        return encode_array(value, contents, where)
    if isinstance(value, np.random.Generator):
        state = value.bit_generator.state
        return {"$type": "generator", "state": encode(state, contents, where)}
    if isinstance(value, np.random.RandomState):
        state = value.get_state(legacy=False)
        return {"$type": "random_state", "state": encode(state, contents, where)}
    if isinstance(value, type) or callable(value):
        return {"$type": "import", **import_path(value, where)}
    raise Unencodable(f"{where} is a {type(value).__name__}, which has no safe form")


def encode_array(array: np.ndarray, contents: Contents, where: str = "array") -> Any:
    """Return the tag of a NumPy array, kept in ``contents``."""
    array = np.asarray(array)
    if array.dtype != object:
        return {"$type": "array", "member": contents.add_array(array)}
    if not all(isinstance(item, str) for item in array.flat):
        raise Unencodable(
            f"{where} is an object array holding other values than strings"
        )
    text = array.astype(str) if array.size else np.zeros(array.shape, dtype="<U1")
    return {"$type": "array", "member": contents.add_array(text), "object": True}


def import_path(obj: Any, where: str = "value") -> dict[str, str]:
    """Return ``{"module", "qualname"}`` of a class or function importable by name."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise Unencodable(
            f"{where} is {obj!r}, which cannot be found again by import path "
            "(a lambda, a local function or an instance)"
        )
    found = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not obj:
        raise Unencodable(
            f"{where} is {obj!r}, which {module}.{qualname} does not name"
        )
    return {"module": module, "qualname": qualname}


def dotted(ref: dict[str, str]) -> str:
    """Return the dotted name of an import tag: ``module.qualname``."""
    return f"{ref['module']}.{ref['qualname']}"


def import_refs(tree: Any) -> list[dict[str, str]]:
    """Return every import tag in ``tree``."""
    found = []
    if isinstance(tree, dict):
        if tree.get("$type") == "import":
            found.append(tree)
        for value in tree.values():
            found.extend(import_refs(value))
    elif isinstance(tree, list):
        for value in tree:
            found.extend(import_refs(value))
    return found


def decode(tree: Any, reader: Reader, resolve: Any = None) -> Any:
    """Return the value that :func:`encode` wrote as ``tree``.

    ``resolve(tag)`` returns the object of an import tag; it must refuse what the
    caller does not trust. Without it, an import tag is an error.
    """
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode(v, reader, resolve) for v in tree]
    if not isinstance(tree, dict):
        raise CheckpointError(f"unexpected value {tree!r} in the checkpoint")
    kind = tree.get("$type")
    if kind == "tuple":
        return tuple(decode(v, reader, resolve) for v in tree["items"])
    if kind == "dict":
        return {k: decode(v, reader, resolve) for k, v in tree["items"].items()}
    if kind == "scalar":
        return np.dtype(tree["dtype"]).type(tree["value"])
    if kind == "array":
        array = reader.array(tree["member"])
        return array.astype(object) if tree.get("object") else array
    if kind == "generator":
        return generator_from(decode(tree["state"], reader))
    if kind == "random_state":
        rng = np.random.RandomState()
        rng.set_state(decode(tree["state"], reader))
        return rng
    if kind == "import":
        if resolve is None:
            raise CheckpointError(f"unexpected code reference {dotted(tree)!r}")
        return resolve(tree)
    raise CheckpointError(f"unknown value tag {kind!r} in the checkpoint")


def generator_from(state: dict[str, Any]) -> np.random.Generator:
    """Return a NumPy ``Generator`` in ``state`` (of a bit generator NumPy ships)."""
    name = state.get("bit_generator")
    known = {"PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"}
    if name not in known:
        raise CheckpointError(f"unknown bit generator {name!r} in the checkpoint")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def set_rng_state(rng: Any, state_of: Any) -> None:
    """Put NumPy generator ``rng`` in the state of generator ``state_of``, in place."""
    if isinstance(rng, np.random.Generator):
        if type(rng.bit_generator) is not type(state_of.bit_generator):
            raise CheckpointError(
                f"the checkpoint has a {type(state_of.bit_generator).__name__} "
                f"generator where this one is {type(rng.bit_generator).__name__}"
            )
        rng.bit_generator.state = state_of.bit_generator.state
    else:
        rng.set_state(state_of.get_state())


def is_rng(value: Any) -> bool:
    return isinstance(value, (np.random.Generator, np.random.RandomState))


# -- training rows ------------------------------------------------------------


def encode_rows(rows: Any, contents: Contents, where: str) -> Any:
    """Return the tag of training rows or labels (None stays None)."""
    if rows is None:
        return None
    if isinstance(rows, np.ndarray):
        return encode_array(rows, contents, where)
    if sp.issparse(rows):
        csr = rows.tocsr()
        return {
            "$type": "sparse",
            "format": rows.format,
            "array": isinstance(rows, sp.sparray),
            "shape": list(csr.shape),
            "data": encode_array(csr.data, contents, where),
            "indices": encode_array(csr.indices, contents, where),
            "indptr": encode_array(csr.indptr, contents, where),
        }
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(rows, pd.DataFrame):
        return _encode_frame(rows, contents, where)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(rows, torch.Tensor):
        tensor = rows.detach()
        bfloat16 = tensor.dtype == torch.bfloat16
        host = (tensor.view(torch.int16) if bfloat16 else tensor).cpu().numpy()
        return {
            "$type": "torch",
            "device": str(rows.device),
            "bfloat16": bfloat16,
            "data": encode_array(host, contents, where),
        }
    raise Unencodable(
        f"{where} is a {type(rows).__name__}; a checkpoint holds training data as "
        "NumPy arrays, SciPy sparse matrices, torch tensors or pandas DataFrames"
    )


def _encode_frame(frame, contents, where):
    columns = frame.columns.tolist()
    if not all(isinstance(c, (str, int)) for c in columns):
        raise Unencodable(f"{where} is a DataFrame with column names of other types")
    if not all(isinstance(dtype, np.dtype) for dtype in frame.dtypes):
        raise Unencodable(f"{where} is a DataFrame with pandas extension dtypes")
    return {
        "$type": "frame",
        "columns": columns,
        "index": encode_array(frame.index.to_numpy(), contents, where),
        "values": [encode_array(frame[c].to_numpy(), contents, where) for c in columns],
    }


def decode_rows(tree: Any, reader: Reader) -> Any:
    """Return the training rows that :func:`encode_rows` wrote as ``tree``."""
    if tree is None:
        return None
    kind = tree.get("$type") if isinstance(tree, dict) else None
    if kind == "array":
        return decode(tree, reader)
    if kind == "sparse":
        parts = tuple(decode(tree[k], reader) for k in ("data", "indices", "indptr"))
        shape = tuple(tree["shape"])
        matrix = (sp.csr_array if tree["array"] else sp.csr_matrix)(parts, shape=shape)
        return matrix.asformat(tree["format"])
    if kind == "frame":
        import pandas as pd

        values = [decode(v, reader) for v in tree["values"]]
        return pd.DataFrame(
            dict(zip(tree["columns"], values, strict=True)),
            index=pd.Index(decode(tree["index"], reader)),
            columns=tree["columns"],
        )
    if kind == "torch":
        import torch

        tensor = torch.from_numpy(np.array(decode(tree["data"], reader)))
        if tree["bfloat16"]:
            tensor = tensor.view(torch.bfloat16)
        device = torch.device(tree["device"])
        if device.type == "cuda" and not torch.cuda.is_available():
            device = torch.device("cpu")
        return tensor.to(device)
    raise CheckpointError(f"unknown training data tag {kind!r} in the checkpoint")


def host_array(array: Any) -> np.ndarray:
    """Return ``array`` (any array library) as a NumPy array."""
    return np.asarray(_backend.to_numpy(array))
