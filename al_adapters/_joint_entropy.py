"""Label configurations of a batch's rows, for BatchBALD's joint entropies.

The joint entropy ``H(y_A, y_x)`` of the chosen rows ``A`` and a candidate ``x``
is computed by the chain rule, ``H(y_A) + sum_c P(c) H(y_x | y_A = c)``, over
configurations ``c`` of the chosen rows' labels. A configuration is kept as its
weight ``P(c)`` and its posterior over the ``T`` samples, ``Q[t, c] = P_t(c) /
P(c)`` (columns of mean 1), so

    P(y_x = y | c) = mean_t Q[t, c] * p_t(y | x)

is one matrix product per chunk of candidates, and no product of many
probabilities (which would underflow) is ever formed. The configurations are
all ``C ** k`` label combinations while they number at most a limit ``M``;
after that, ``M`` of them are drawn from the joint distribution (ancestral
sampling: each drawn configuration is extended by a label drawn from its
conditional), with equal weights.
"""

import numpy as np

from al_adapters import _backend
from al_adapters.uncertainty import entropy


class Configurations:
    """Label configurations of the chosen rows: weights and posteriors over samples.

    Parameters
    ----------
    xp : module
        Array namespace of the samples.
    like : array
        An array of the samples' dtype and device.
    n_samples : int
        ``T``, the number of Monte Carlo samples.
    limit : int
        Most configurations kept; beyond, that many are drawn.
    rng : Generator or RandomState
        Draws the configurations once they are sampled.
    """

    def __init__(self, xp, like, n_samples, limit, rng):
        self.xp, self.limit, self.rng = xp, limit, rng
        self.device = _backend.device(like)
        self.posterior = xp.ones((n_samples, 1), dtype=like.dtype, device=self.device)
        self.weights = xp.ones((1,), dtype=like.dtype, device=self.device)
        self.exact = True

    def conditionals(self, samples):
        """Return ``P(y_x = y | c)``, shape ``(K, n, C)``, for samples ``(T, n, C)``."""
        xp = self.xp
        n_samples, n_rows, n_classes = samples.shape
        flat = xp.reshape(samples, (n_samples, n_rows * n_classes))
        product = xp.matmul(xp.matrix_transpose(self.posterior), flat) / n_samples
        return xp.reshape(product, (self.posterior.shape[1], n_rows, n_classes))

    def joint_entropy_gain(self, samples):
        """Return ``H(y_x | y_A)`` of each row of ``samples`` ``(T, n, C)``."""
        conditional_entropies = entropy(self.conditionals(samples), axis=2)
        return self.xp.matmul(self.weights, conditional_entropies)

    def add(self, row_samples):
        """Extend the configurations by the label of a chosen row ``(T, C)``."""
        xp = self.xp
        n_classes = row_samples.shape[1]
        conditional = self.conditionals(row_samples[:, None, :])[:, 0, :]  # (K, C)
        n_configurations = conditional.shape[0]
        if self.exact and n_configurations * n_classes <= self.limit:
            weights = xp.reshape(self.weights[:, None] * conditional, (-1,))
            keep = np.flatnonzero(_backend.to_numpy(weights) > 0)
            parents, labels = keep // n_classes, keep % n_classes
            weights = xp.take(weights, self._on_device(keep), axis=0)
        else:
            parents, labels = self._draw(conditional)
            weights = xp.full(
                (parents.size,),
                1.0 / parents.size,
                dtype=self.weights.dtype,
                device=self.device,
            )
            self.exact = False
        flat_conditional = xp.reshape(conditional, (-1,))
        chosen = self._on_device(parents * n_classes + labels)
        posterior = (
            xp.take(self.posterior, self._on_device(parents), axis=1)
            * xp.take(row_samples, self._on_device(labels), axis=1)
            / xp.take(flat_conditional, chosen, axis=0)
        )
        # mean over samples is 1 up to rounding; renormalise so errors do not grow
        self.posterior = posterior / xp.mean(posterior, axis=0, keepdims=True)
        self.weights = weights / xp.sum(weights)

    def _draw(self, conditional):
        """Draw ``limit`` extended configurations; return their parents and labels."""
        host = _backend.to_numpy(conditional).astype(np.float64)
        n_configurations = host.shape[0]
        if self.exact:
            weights = _backend.to_numpy(self.weights).astype(np.float64)
            parents = self.rng.choice(
                n_configurations, size=self.limit, p=weights / weights.sum()
            )
        else:
            parents = np.arange(n_configurations)
        cumulative = np.cumsum(host[parents], axis=1)
        cumulative /= cumulative[:, -1:]
        uniform = self.rng.random(parents.size)[:, None]
        labels = np.minimum((cumulative <= uniform).sum(axis=1), host.shape[1] - 1)
        return parents, labels

    def _on_device(self, indices):
        dtype = _backend.index_dtype(self.xp, self.posterior)
        return self.xp.asarray(
            np.asarray(indices, dtype=np.int64), dtype=dtype, device=self.device
        )
