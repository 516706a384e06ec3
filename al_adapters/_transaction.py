"""Rollback of an active learner: a failed call leaves it as it was.

:func:`rollback_scope` snapshots the training data (rows and dtype) and, unless
the learner's ``rollback`` is off, the estimator: from its ``state_dict`` when
it has one (host arrays), else from a deep copy. On any exception, the
``KeyboardInterrupt`` of a user included, it puts them back and re-raises.
"""

import contextlib
import copy

from al_adapters.adapters.base import caller_restores
from al_adapters.protocol import SupportsStateDict


@contextlib.contextmanager
def rollback_scope(learner):
    """Scope whose failure puts ``learner`` back as it was when it began.

    Nested scopes of one learner share the outermost one.
    """
    if vars(learner).get("_rollback_active", False):
        yield
        return
    X_buffer, y_buffer = learner._X, learner._y
    X_rows, y_rows = X_buffer.snapshot(), y_buffer.snapshot()
    restore = estimator_restorer(learner.estimator) if learner.rollback else None
    learner._rollback_active = True
    try:
        with caller_restores(learner.estimator):
            yield
    except BaseException:
        X_buffer.restore(X_rows)
        y_buffer.restore(y_rows)
        learner._X, learner._y = X_buffer, y_buffer
        if restore is not None:
            restore()
        raise
    finally:
        learner._rollback_active = False


def estimator_restorer(estimator):
    """Take the estimator's state now; return a function that puts it back."""
    if isinstance(estimator, SupportsStateDict):
        state = estimator.state_dict()
        return lambda: estimator.load_state_dict(state)
    saved = copy.deepcopy(estimator).__dict__

    def restore():
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)

    return restore
