"""Tiny Hugging Face models and a tokenizer, built from configs (no download).

``FeatureClassifier`` is a ``PreTrainedModel`` over numeric rows (its main input
is ``input_values``, as an audio model's is): a linear layer, optional
BatchNorm, ReLU and dropout, then a linear ``classifier``. It lets the shared
adapter contract tests, written for numeric rows, run on ``HFAdapter``.
``tiny_bert`` and ``word_tokenizer`` give a real BERT sequence classifier with a
word-level tokenizer trained on the sentences of :func:`sentences`.
"""

import os

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from torch import nn
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)
from transformers.modeling_outputs import SequenceClassifierOutput

POSITIVE = ["good", "great", "fine", "nice", "happy", "superb", "lovely", "bright"]
NEGATIVE = ["bad", "awful", "poor", "sad", "grim", "dull", "ugly", "broken"]
FILLER = ["the", "film", "was", "a", "plot", "and", "very", "story", "cast", "it"]


class FeatureConfig(PretrainedConfig):
    model_type = "al-adapters-features"

    def __init__(self, n_features=4, hidden=16, dropout=0.0, batchnorm=False, **kwargs):
        self.n_features = n_features
        self.hidden = hidden
        self.dropout = dropout
        self.batchnorm = batchnorm
        super().__init__(**kwargs)


class FeatureClassifier(PreTrainedModel):
    config_class = FeatureConfig
    main_input_name = "input_values"

    def __init__(self, config):
        super().__init__(config)
        if config.n_features is None:
            layers = [nn.LazyLinear(config.hidden)]
        else:
            layers = [nn.Linear(config.n_features, config.hidden)]
        if config.batchnorm:
            layers.append(nn.BatchNorm1d(config.hidden))
        layers += [nn.ReLU(), nn.Dropout(config.dropout)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(config.hidden, config.num_labels)
        self.post_init()

    def _init_weights(self, module):
        """Keep torch's own initialisation."""

    def forward(self, input_values, labels=None, **kwargs):
        return SequenceClassifierOutput(
            logits=self.classifier(self.features(input_values))
        )


def feature_classifier(
    n_features=4, n_classes=3, hidden=16, dropout=0.0, batchnorm=False
):
    config = FeatureConfig(
        n_features=n_features,
        hidden=hidden,
        dropout=dropout,
        batchnorm=batchnorm,
        num_labels=n_classes,
    )
    return FeatureClassifier(config)


def sentences(n=60, seed=0, length=6):
    """Two-class sentences: label 1 holds positive words, label 0 negative ones."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    texts = []
    for label in y:
        words = list(rng.choice(FILLER, size=length - 2))
        words += list(rng.choice(POSITIVE if label else NEGATIVE, size=2))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts, y


def word_tokenizer():
    """A word-level fast tokenizer over the words of :func:`sentences`."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    trainer = trainers.WordLevelTrainer(special_tokens=specials)
    tokenizer.train_from_iterator([" ".join(POSITIVE + NEGATIVE + FILLER)], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=32,
    )


def tiny_bert(num_labels=2, vocab_size=40, dropout=0.1, hidden=32, layers=2):
    """A BERT sequence classifier: hidden size 32, 2 layers, 2 heads."""
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        num_labels=num_labels,
    )
    return BertForSequenceClassification(config)
