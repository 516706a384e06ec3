"""Training a LightningModule with a fresh Trainer per call, optimizer state carried.

Lightning's ``Trainer.fit`` calls the module's ``configure_optimizers`` every
time, so each call starts with a new optimizer and learning-rate scheduler. A
warm start loads the previous call's optimizer and scheduler states back into
them in ``on_train_start`` (after Lightning has built them, before the first
step), and reads them out again when ``fit`` returns.

Lightning also answers a ``KeyboardInterrupt`` with ``sys.exit(1)``;
:func:`train` raises the ``KeyboardInterrupt`` instead, so that the adapter's
rollback and the caller see it as such.
"""

import contextlib
import copy
import dataclasses
import logging
import sys
import warnings
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

#: The Trainer settings of the adapter, unless the user gives them: nothing is
#: written into the working directory, nothing prints, no validation loop runs,
#: and one device is used (``devices="auto"`` would start one process per GPU).
TRAINER_DEFAULTS = {
    "max_epochs": 10,
    "devices": 1,
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
    "limit_val_batches": 0,
}

#: The loggers whose INFO messages ("GPU available: ...") a quiet call hides.
_LOGGERS = (
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning_fabric",
)


def framework_of(module):
    """Return the Lightning package of ``module``, or raise a TypeError.

    That is ``lightning.pytorch`` or ``pytorch_lightning``: the one whose
    ``LightningModule`` it is, whose Trainer must train it.
    """
    for name in ("lightning.pytorch", "pytorch_lightning"):
        package = sys.modules.get(name)
        if package is not None and isinstance(module, package.LightningModule):
            return package
    raise TypeError(
        "module must be a LightningModule instance (from lightning.pytorch or "
        f"pytorch_lightning), got {type(module).__name__}"
    )


def fresh_copy(module):
    """Return a deep copy of the LightningModule ``module`` (checked to be one)."""
    framework_of(module)
    return copy.deepcopy(module)


@dataclasses.dataclass
class OptimizerStates:
    """What a warm start carries from one ``Trainer.fit`` to the next."""

    optimizers: list[dict[str, Any]]
    schedulers: list[dict[str, Any]]


def _carry_callback(framework):
    class CarryOptimizerState(framework.Callback):
        """Loads optimizer and scheduler states at train start; notes interrupts."""

        def __init__(self, states):
            self.states = states
            self.interrupt = None

        def on_train_start(self, trainer, pl_module):
            if self.states is None:
                return
            optimizers = trainer.optimizers
            schedulers = [config.scheduler for config in trainer.lr_scheduler_configs]
            _check_counts(self.states, optimizers, schedulers)
            pairs = [
                *zip(optimizers, self.states.optimizers, strict=True),
                *zip(schedulers, self.states.schedulers, strict=True),
            ]
            for target, state in pairs:  # optimizers first, then schedulers
                target.load_state_dict(state)

        def on_exception(self, trainer, pl_module, exception):
            if isinstance(exception, KeyboardInterrupt):
                self.interrupt = exception

    return CarryOptimizerState


def _check_counts(states, optimizers, schedulers):
    if len(optimizers) != len(states.optimizers) or len(schedulers) != len(
        states.schedulers
    ):
        raise ValueError(
            f"configure_optimizers returned {len(optimizers)} optimizers and "
            f"{len(schedulers)} schedulers, but the state to continue from holds "
            f"{len(states.optimizers)} and {len(states.schedulers)}"
        )


def loader(X, codes, *, batch_size, shuffle):
    """Return the DataLoader of ``(rows, label codes)`` batches for one call."""
    X = X if isinstance(X, torch.Tensor) else torch.from_numpy(X)
    codes = torch.from_numpy(codes).to(X.device)
    return DataLoader(TensorDataset(X, codes), batch_size=batch_size, shuffle=shuffle)


def trainer_params(params, epochs, extra_callbacks):
    """Return the Trainer's keyword arguments: defaults, the user's, the call's."""
    merged = {**TRAINER_DEFAULTS, **params}
    if epochs is not None:
        merged["max_epochs"] = epochs
    callbacks = merged.get("callbacks") or []
    if not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    merged["callbacks"] = [*callbacks, *extra_callbacks]
    return merged


@contextlib.contextmanager
def quiet(verbose):
    """Hide Lightning's INFO messages and its DataLoader-worker advice."""
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        # the adapter's own in-memory DataLoader needs no workers
        warnings.filterwarnings("ignore", message=".*does not have many workers")
        # Lightning's own use of a torch API that torch deprecated
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def check_one_process(trainer, framework):
    """Raise ValueError for a Trainer that would train in several processes.

    A warm start reads the optimizer and scheduler states out of this process's
    Trainer after ``fit``; under ``ddp_spawn`` they live in the spawned
    processes and are lost when those exit (Lightning sends back only rank 0's
    weights), and ``ddp`` starts the running script again once per device.
    """
    strategy = trainer.strategy
    parallel = isinstance(strategy, framework.strategies.ParallelStrategy)
    if parallel or trainer.num_devices * trainer.num_nodes > 1:
        raise ValueError(
            f"LightningAdapter trains in one process on one device, but the Trainer "
            f"arguments give {type(strategy).__name__} over {trainer.num_devices} "
            f"device(s) and {trainer.num_nodes} node(s). Several processes cannot "
            "hand the optimizer and scheduler states of a warm start back (ddp_spawn "
            "returns only rank 0's weights; ddp relaunches the script per device): "
            "use devices=1 and no multi-process strategy"
        )


def train(module, data, *, params, epochs, states, verbose):
    """Fit ``module`` on ``data`` with a fresh Trainer; return the new states.

    ``states`` (an :class:`OptimizerStates`, or None for a cold start) is loaded
    into the optimizers and schedulers that ``configure_optimizers`` returns.
    Returns the states after training and the device the module trained on
    (where it is left, in eval mode: Lightning moves it to the CPU at the end).
    """
    framework = framework_of(module)
    carry = _carry_callback(framework)(states)
    device = None
    try:
        with quiet(verbose):
            trainer = framework.Trainer(**trainer_params(params, epochs, [carry]))
            check_one_process(trainer, framework)
            device = trainer.strategy.root_device
            module.train()  # the adapter keeps it in eval mode between calls
            trainer.fit(module, train_dataloaders=data)
    except SystemExit:
        if carry.interrupt is None:
            raise
        raise carry.interrupt from None
    finally:
        module.trainer = None  # the module would keep the Trainer alive
        if device is not None:
            module.to(device)
        module.eval()
    new_states = OptimizerStates(
        [optimizer.state_dict() for optimizer in trainer.optimizers],
        [config.scheduler.state_dict() for config in trainer.lr_scheduler_configs],
    )
    return new_states, device
