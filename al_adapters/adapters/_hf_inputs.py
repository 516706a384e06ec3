"""Rows of a Hugging Face pool, and the model inputs made of them.

A pool is one of:

- **text**: a list, tuple or NumPy array of strings, tokenized a pass at a time;
- **columns**: a mapping of equal-length columns (a tokenizer's output, a
  ``dict`` of lists or arrays, ``BatchEncoding``), or a ``datasets.Dataset``
  (duck-typed: anything with ``column_names`` and ``select``). Columns the
  model's ``forward`` takes are its inputs (padded by the tokenizer when their
  rows differ in length); a ``text_column`` without them is tokenized;
- **numbers**: a NumPy array or torch tensor, the model's main input
  (``input_ids`` as int64, anything else as floats).

A ``collate_fn`` replaces all of this: it gets the rows of one batch (as the pool
holds them) and returns the model's keyword arguments.
"""

import inspect
from collections.abc import Mapping

import numpy as np
import torch

from al_adapters import _rows


class DeviceRows:
    """Host rows bound for the model's device, moved there a pass at a time.

    What :meth:`HFAdapter.to_device` returns for rows that need tokenizing or
    collating: scoring them gives tensors on the model's device, while memory
    holds one pass of model inputs, not the whole chunk.
    """

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return n_rows(self.rows)


def is_dataset(X):
    """Tell whether ``X`` reads like a ``datasets.Dataset``."""
    return hasattr(X, "column_names") and hasattr(X, "select")


def is_text(X):
    """Tell whether ``X`` is a sequence of strings."""
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "US" or (
            X.dtype == object and X.ndim == 1 and len(X) > 0 and isinstance(X[0], str)
        )
    return isinstance(X, (list, tuple)) and len(X) > 0 and isinstance(X[0], str)


def on_device(X):
    """Tell whether scoring ``X`` gives tensors (device rows, tensors, their dicts)."""
    if isinstance(X, (DeviceRows, torch.Tensor)):
        return True
    return (
        isinstance(X, Mapping)
        and len(X) > 0
        and all(isinstance(v, torch.Tensor) for v in X.values())
    )


def n_rows(X):
    """Return the number of rows of a pool."""
    if isinstance(X, DeviceRows):
        return len(X)
    if is_dataset(X):
        return len(X)
    if isinstance(X, Mapping):
        lengths = {len(v) for v in X.values()}
        if len(lengths) != 1:
            raise ValueError(
                f"the columns of X must have one length, got lengths {sorted(lengths)}"
            )
        return lengths.pop()
    return _rows.n_rows(X)


def take(X, indices):
    """Return the rows of ``X`` at ``indices`` (a 1-D integer array or a slice)."""
    if isinstance(X, DeviceRows):
        return take(X.rows, indices)
    if is_dataset(X):
        if isinstance(indices, slice):
            indices = range(*indices.indices(len(X)))
        return X.select(np.asarray(indices, dtype=np.int64).tolist())[:]
    if isinstance(X, Mapping):
        return {name: _take_column(column, indices) for name, column in X.items()}
    if isinstance(indices, slice):
        return _rows.slice_rows(X, indices.start, indices.stop)
    return _rows.take_rows(X, np.asarray(indices))


def _take_column(column, indices):
    if isinstance(column, (list, tuple)):
        if isinstance(indices, slice):
            return column[indices]
        return [column[i] for i in np.asarray(indices).tolist()]
    if isinstance(indices, slice) or isinstance(column, np.ndarray):
        return column[indices]
    return column[torch.as_tensor(np.asarray(indices), device=column.device)]


def forward_names(model):
    """Return the keyword arguments the model's ``forward`` takes."""
    parameters = inspect.signature(model.forward).parameters
    return {
        name
        for name, p in parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


class Encoder:
    """Turns rows into the model's keyword arguments on a device.

    Parameters
    ----------
    model : PreTrainedModel
        Gives ``main_input_name``, the names ``forward`` takes and the dtype of
        float inputs.
    tokenizer : callable or None
        A tokenizer or processor (``tokenizer(texts, padding=..., ...)``).
    collate_fn : callable or None
        ``collate_fn(rows) -> dict`` of the model's inputs; wins over the rest.
    max_length : int or None
        Longest tokenized text (longer ones are truncated).
    text_column : str
        Column of a mapping or dataset that holds raw text.
    """

    def __init__(self, model, tokenizer, collate_fn, max_length, text_column):
        self.main_input = getattr(model, "main_input_name", "input_ids")
        self.accepted = forward_names(model)
        self.float_dtype = next(
            (p.dtype for p in model.parameters() if p.is_floating_point()),
            torch.float32,
        )
        self.tokenizer = tokenizer
        self.collate_fn = collate_fn
        self.max_length = max_length
        self.text_column = text_column

    def __call__(self, rows, device):
        """Return ``rows`` as a dict of tensors on ``device``."""
        if isinstance(rows, DeviceRows):
            rows = rows.rows
        if self.collate_fn is not None:
            inputs = dict(self.collate_fn(rows))
        elif is_text(rows):
            inputs = self._tokenize([str(text) for text in rows])
        elif isinstance(rows, Mapping) or is_dataset(rows):
            inputs = self._columns(rows[:] if is_dataset(rows) else rows)
        else:
            inputs = {self.main_input: self._numbers(rows)}
        return {
            name: self._placed(value, device)
            for name, value in inputs.items()
            if name in self.accepted and value is not None
        }

    def _placed(self, value, device):
        value = torch.as_tensor(value) if not isinstance(value, torch.Tensor) else value
        if value.is_floating_point() and value.dtype != self.float_dtype:
            value = value.to(self.float_dtype)
        return value.to(device, non_blocking=True)

    def _numbers(self, rows):
        if not isinstance(rows, torch.Tensor):
            rows = np.asarray(rows)
            if not rows.flags.writeable:  # torch warns about read-only memory
                rows = rows.copy()
            rows = torch.as_tensor(rows)
        if self.main_input == "input_ids":
            return rows.to(torch.long)
        return rows.to(self.float_dtype)

    def _tokenize(self, texts):
        if self.tokenizer is None:
            raise ValueError(
                "X holds text, but the adapter has no tokenizer: pass "
                "HFAdapter(model, tokenizer=AutoTokenizer.from_pretrained(...)) or a "
                "collate_fn"
            )
        return self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )

    def _columns(self, columns):
        inputs = {k: v for k, v in columns.items() if k in self.accepted}
        if self.main_input not in inputs:
            if self.text_column in columns:
                return self._tokenize([str(t) for t in columns[self.text_column]])
            raise ValueError(
                f"X has the columns {sorted(columns)}, but the model takes "
                f"{self.main_input!r}; pass the tokenized inputs or a "
                f"{self.text_column!r} column of text (text_column=...)"
            )
        if all(_is_rectangular(v) for v in inputs.values()):
            return inputs
        if self.tokenizer is None or not hasattr(self.tokenizer, "pad"):
            raise ValueError(
                "the tokenized rows of X differ in length; pass a tokenizer (its "
                "pad method pads them) or pad them yourself"
            )
        return self.tokenizer.pad(inputs, padding=True, return_tensors="pt")


def _is_rectangular(column):
    if isinstance(column, (torch.Tensor, np.ndarray)):
        return True
    lengths = {len(row) if hasattr(row, "__len__") else -1 for row in column}
    return len(lengths) <= 1


def trim_padding(inputs):
    """Drop trailing columns that every row pads (right padding), pass by pass."""
    mask = inputs.get("attention_mask")
    if mask is None or mask.ndim != 2 or mask.shape[1] == 0:
        return inputs
    used = mask.any(dim=0).nonzero()
    length = int(used.max()) + 1 if used.numel() else 1
    if length == mask.shape[1]:
        return inputs
    width = mask.shape[1]
    return {
        name: value[:, :length]
        if isinstance(value, torch.Tensor)
        and value.ndim >= 2
        and value.shape[1] == width
        else value
        for name, value in inputs.items()
    }
