"""The training loop of an HFAdapter: mini-batches, cross-entropy, an optimizer step.

A loop of its own rather than ``transformers.Trainer``: active learning trains
on a few hundred labelled rows many times over, and the Trainer's per-call setup
(accelerator, logging and checkpoint machinery, a new optimizer and scheduler on
every ``train()``) costs more than the training itself, and it cannot continue an
optimizer across calls without a checkpoint on disk. This loop keeps the
optimizer and scheduler across ``partial_fit`` calls, trains on the labels'
positions in ``classes`` (the model's own ``problem_type`` and label mapping
are not used), and lets every error, ``KeyboardInterrupt`` included, through
to the adapter's rollback.
"""

import torch
from torch import nn

from al_adapters.adapters import _hf_inference as inference
from al_adapters.adapters import _hf_inputs as inputs_of


def build_optimizer(model, optimizer, lr, weight_decay):
    """Return ``optimizer`` over the model's trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (requires_grad)")
    return optimizer(params, lr=lr, weight_decay=weight_decay)


def has_lazy_parameters(model):
    """Tell whether the model has parameters whose shapes are not known yet."""
    return any(nn.parameter.is_lazy(p) for p in model.parameters())


def has_running_stats(model):
    """Tell whether a layer of the model keeps running statistics (BatchNorm)."""
    return any(isinstance(m, inference._RUNNING_STATS) for m in model.modules())


def train(adapter, X, codes, epochs):
    """Train ``adapter.model_`` for ``epochs`` epochs on ``(X, codes)``."""
    model, optimizer = adapter.model_, adapter.optimizer_
    scheduler, encode = adapter.scheduler_, adapter._encoder()
    device = inference.model_device(model)
    n = inputs_of.n_rows(X)
    targets = torch.as_tensor(codes, device=device)
    loss_fn = nn.CrossEntropyLoss()
    single_rows_break = has_running_stats(model) and n > 1
    model.train()
    try:
        for epoch in range(epochs):
            order = torch.randperm(n) if adapter.shuffle else torch.arange(n)
            for start in range(0, n, adapter.batch_size):
                rows = order[start : start + adapter.batch_size]
                if len(rows) == 1 and single_rows_break:
                    continue  # BatchNorm cannot train on a single row
                batch = inputs_of.take(X, rows.numpy())
                model_inputs = encode(batch, device)
                optimizer.zero_grad(set_to_none=True)
                logits = model(**model_inputs).logits.float()
                loss = loss_fn(logits, targets[rows.to(device)])
                loss.backward()
                if adapter.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(
                        [p for p in model.parameters() if p.requires_grad],
                        adapter.max_grad_norm,
                    )
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                adapter.n_steps_ += 1
            for callback in adapter.callbacks or ():
                callback(adapter, epoch)
    finally:
        model.eval()
