"""Type aliases for the public signatures."""

from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np

#: Rows: a NumPy array or memmap, list, pandas DataFrame, SciPy sparse matrix or
#: tensor, depending on what the estimator takes.
Rows: TypeAlias = Any
#: Labels, one per row.
Labels: TypeAlias = Any
#: An array of any supported array library (NumPy, torch), on any device.
Array: TypeAlias = Any
#: Anything ``sklearn.utils.check_random_state`` accepts, or a NumPy Generator.
RandomStateLike: TypeAlias = int | np.random.RandomState | np.random.Generator | None
#: ``strategy(model, X_pool, *args, **kwargs) -> indices | (indices, scores)``.
QueryStrategy: TypeAlias = Callable[..., Any]
#: What a query returns: indices and rows, plus scores with ``return_metrics``.
QueryResult: TypeAlias = (
    tuple[np.ndarray, Rows] | tuple[np.ndarray, Rows, np.ndarray | None]
)
