"""Active learning for text classification with a Hugging Face transformer.

The task: is a short product review positive or negative? The reviews are
generated here (no download): each mixes neutral words with a few words of its
sentiment, and some hold a word of the other side, outnumbered.

By default the model is a tiny BERT built from a config (2 layers, hidden size
32) with a word-level tokenizer trained on the reviews, and runs on the CPU in
a few minutes. With ``--model NAME`` it fine-tunes a real checkpoint that is in
your Hugging Face cache, e.g. ``--model distilbert-base-uncased``.

Each round, the learner picks the reviews the model is least sure of
(``--strategy uncertainty``) or those where MC dropout disagrees the most
(``--strategy bald``), "labels" them, and fine-tunes a fresh copy of the model
on every label so far (``teach``); with ``--warm`` it goes on training on the
new labels only (``teach(only_new=True)``: optimizer state kept), which is
cheaper per round for a large model.

Run: ``python finetune_transformer.py [--rounds 6] [--strategy bald] [--warm]``.
"""

import argparse
import os

import numpy as np
import torch

from al_adapters import ActiveLearner, HFAdapter, Pool
from al_adapters.bayesian import bald_sampling
from al_adapters.uncertainty import uncertainty_sampling

POSITIVE = ["good", "great", "excellent", "lovely", "superb", "reliable", "sturdy"]
NEGATIVE = ["bad", "poor", "awful", "flimsy", "broken", "useless", "cheap"]
NEUTRAL = ["the", "a", "it", "was", "this", "phone", "case", "screen", "and", "box"]


def reviews(n, rng):
    """Return ``n`` generated reviews and their labels (1 positive, 0 negative)."""
    y = rng.integers(0, 2, size=n)
    texts = []
    for label in y:
        words = list(rng.choice(NEUTRAL, size=rng.integers(4, 9)))
        sentiment = POSITIVE if label else NEGATIVE
        for word in rng.choice(sentiment, size=rng.integers(1, 3)):
            words.insert(int(rng.integers(0, len(words) + 1)), str(word))
        if rng.random() < 0.2:  # a word of the other side, outnumbered
            words.insert(0, str(rng.choice(NEGATIVE if label else POSITIVE)))
            words.append(str(rng.choice(sentiment)))
        texts.append(" ".join(words))
    return texts, y


def tiny_model_and_tokenizer(texts):
    """Return a 2-layer BERT from a config and a word-level tokenizer of ``texts``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    words = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    words.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=specials))
    words.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[(t, words.token_to_id(t)) for t in ("[CLS]", "[SEP]")],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=32,
    )
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=2,
    )
    return BertForSequenceClassification(config), tokenizer


def pretrained_model_and_tokenizer(name):
    """Return a cached checkpoint (nothing is downloaded with HF_HUB_OFFLINE=1)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name)
    model = AutoModelForSequenceClassification.from_pretrained(name, num_labels=2)
    return model, tokenizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a cached checkpoint name")
    parser.add_argument("--strategy", choices=["uncertainty", "bald"], default="bald")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--initial", type=int, default=32)
    parser.add_argument("--per-round", type=int, default=16)
    parser.add_argument("--warm", action="store_true", help="teach(only_new=True)")
    parser.add_argument("--pool-size", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    texts, y = reviews(args.pool_size + 400, rng)
    pool_texts, pool_y = texts[: args.pool_size], y[: args.pool_size]
    test_texts, test_y = texts[args.pool_size :], y[args.pool_size :]
    if args.model is None:
        model, tokenizer = tiny_model_and_tokenizer(pool_texts)
        settings = {"lr": 2e-3, "epochs": 10}
    else:
        model, tokenizer = pretrained_model_and_tokenizer(args.model)
        settings = {"lr": 3e-5, "epochs": 3}
    adapter = HFAdapter(
        model,
        classes=["negative", "positive"],
        tokenizer=tokenizer,
        max_length=64,
        batch_size=16,
        device=args.device,
        **settings,
    )
    labels = np.array(["negative", "positive"])

    pool = Pool(pool_texts)
    start = rng.choice(args.pool_size, size=args.initial, replace=False)
    pool.label(start)
    strategy = bald_sampling if args.strategy == "bald" else uncertainty_sampling
    learner = ActiveLearner(
        adapter,
        query_strategy=strategy,
        X_training=[pool_texts[i] for i in start],
        y_training=labels[pool_y[start]],
    )
    print(f"model {args.model or 'tiny BERT (config)'}, strategy {args.strategy}")
    accuracy = learner.score(test_texts, labels[test_y])
    print(f"labels {len(start):4d}  accuracy {accuracy:.3f}")
    first = accuracy
    bald = args.strategy == "bald"
    extra = {"n_samples": 10, "random_state": args.seed} if bald else {}
    for _ in range(args.rounds):
        idx, _ = learner.query(pool, n_instances=args.per_round, **extra)
        pool.label(idx)
        learner.teach(
            [pool_texts[i] for i in idx], labels[pool_y[idx]], only_new=args.warm
        )
        accuracy = learner.score(test_texts, labels[test_y])
        print(f"labels {len(learner.y_training):4d}  accuracy {accuracy:.3f}")
    print(f"accuracy {first:.3f} -> {accuracy:.3f}")
    return first, accuracy


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
