"""Pool scoring with a transformer: HFAdapter, the bare model and Trainer.predict.

One uncertainty query (``n_instances=10``) over a pool of raw texts of 63 to 126
words (up to 128 tokens with [CLS] and [SEP]), scored by a BERT built from a
config (hidden size 32, 2 layers, 2 heads, feed-forward 128; no download) with a
word-level tokenizer, three ways, each on one torch thread (``--threads``):

(a) ``ActiveLearner(HFAdapter(...)).query(texts)``: the pool is streamed in
    chunks, tokenized a pass (64 rows) at a time, with a running top-k;
(b) the bare model under ``torch.inference_mode``: the same tokenizer on each
    batch of 64 texts, a forward pass, a running ``topk`` (the limit);
(c) what a user writes today: tokenize the pool, ``transformers.Trainer.predict``
    (batches of 64, padding by ``DataCollatorWithPadding``), then NumPy's softmax
    and top-k over the whole logits array.

Each path runs in a fresh subprocess that warms up on 256 texts, then times
``--repeats`` runs (median wall time and CPU time) and measures the growth of its
resident set during the first run: the peak (``VmHWM``, reset through
``/proc/self/clear_refs``) minus the RSS before it, pool and model already in
memory.

    python benchmarks/pool_scoring_hf.py                     # 10k and 100k texts
    python benchmarks/pool_scoring_hf.py --sizes 1000 4000   # a quick look
    python benchmarks/pool_scoring_hf.py --device cuda
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import print_table

WORDS, N_INSTANCES, BATCH, HIDDEN, LAYERS = 126, 10, 64, 32, 2
DEVICE, THREADS = "cpu", 1


def build(n):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(2000)]
    words = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    words.train_from_iterator(
        [" ".join(vocabulary)], trainers.WordLevelTrainer(special_tokens=specials)
    )
    words.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[(t, words.token_to_id(t)) for t in ("[CLS]", "[SEP]")],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words, pad_token="[PAD]", unk_token="[UNK]",
        cls_token="[CLS]", sep_token="[SEP]", model_max_length=128,
    )  # fmt: skip
    lengths = rng.integers(WORDS // 2, WORDS + 1, size=n)
    ids = rng.integers(0, len(vocabulary), size=(n, WORDS))
    texts = [
        " ".join(vocabulary[i] for i in row[:k])
        for row, k in zip(ids, lengths, strict=True)
    ]
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=LAYERS,
        num_attention_heads=2, intermediate_size=4 * HIDDEN,
        max_position_embeddings=128, num_labels=4,
    )  # fmt: skip
    model = BertForSequenceClassification(config).to(DEVICE).eval()
    return model, tokenizer, texts


def path_adapter(model, tokenizer, texts):
    from al_adapters import ActiveLearner, HFAdapter

    adapter = HFAdapter(
        model, classes=[0, 1, 2, 3], tokenizer=tokenizer, max_length=128,
        predict_batch_size=BATCH, epochs=1,
    )  # fmt: skip
    adapter.fit(texts[:8], [0, 1, 2, 3] * 2, epochs=1)
    adapter.model_.load_state_dict(model.state_dict())  # the same weights as (b), (c)
    learner = ActiveLearner(adapter)
    return lambda: learner.query(texts, n_instances=N_INSTANCES)[0]


def path_bare(model, tokenizer, texts):
    import torch

    def run():
        best = torch.empty(0, device=DEVICE)
        where = torch.empty(0, dtype=torch.int64, device=DEVICE)
        with torch.inference_mode():
            for start in range(0, len(texts), BATCH):
                batch = tokenizer(
                    texts[start : start + BATCH], padding=True, truncation=True,
                    max_length=128, return_tensors="pt",
                ).to(DEVICE)  # fmt: skip
                proba = model(**batch).logits.softmax(dim=-1)
                scores = 1 - proba.max(dim=1).values
                index = torch.arange(start, start + len(scores), device=DEVICE)
                best, keep = torch.cat([best, scores]).topk(
                    min(N_INSTANCES, len(best) + len(scores))
                )
                where = torch.cat([where, index])[keep]
        return where.cpu().numpy()

    return run


def path_trainer(model, tokenizer, texts):
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    output = tempfile.mkdtemp()
    arguments = TrainingArguments(
        output_dir=output, per_device_eval_batch_size=BATCH, report_to=[],
        use_cpu=DEVICE == "cpu", disable_tqdm=True, dataloader_num_workers=0,
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=arguments, data_collator=DataCollatorWithPadding(tokenizer)
    )

    def run():
        encoded = tokenizer(texts, truncation=True, max_length=128)
        rows = [
            {k: encoded[k][i] for k in encoded}
            for i in range(len(encoded["input_ids"]))
        ]
        logits = trainer.predict(rows).predictions
        logits = logits - logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        scores = 1 - proba.max(axis=1)
        top = np.argpartition(-scores, N_INSTANCES)[:N_INSTANCES]
        return top[np.argsort(-scores[top])]

    return run


PATHS = {"adapter": path_adapter, "bare": path_bare, "trainer": path_trainer}


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def worker(path, n, repeats, threads):
    """Time ``repeats`` runs of one path; print median times and RSS growth as JSON."""
    import torch

    torch.set_num_threads(threads)
    model, tokenizer, texts = build(n)
    PATHS[path](model, tokenizer, texts[:256])()  # warm-up
    run = PATHS[path](model, tokenizer, texts)
    walls, cpus, growth, chosen = [], [], None, None
    for _ in range(repeats):
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        before = _status_kib("VmRSS")
        wall, cpu = time.perf_counter(), time.process_time()
        chosen = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        if growth is None:
            growth = max(0, _status_kib("VmHWM") - before) / 1024
    result = {
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "rss_mib": growth,
        "chosen": sorted(int(i) for i in chosen),
    }
    print(json.dumps(result))


def measure(path, n, repeats):
    command = [sys.executable, __file__, "--worker", path, "--n", str(n)]
    command += ["--repeats", str(repeats), "--device", DEVICE]
    command += ["--threads", str(THREADS)]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(output.stdout.splitlines()[-1])
    print(f"  {path} n={n}: {json.dumps(result)}", file=sys.stderr)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--worker", choices=sorted(PATHS), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global DEVICE, THREADS
    DEVICE, THREADS = args.device, args.threads
    if args.worker:
        worker(args.worker, args.n, args.repeats, args.threads)
        return

    import torch

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"torch {torch.__version__}, {THREADS} thread(s) per path, device "
        f"{DEVICE}; load {load}"
    )
    rows = []
    for n in args.sizes:
        a, b, c = (measure(path, n, args.repeats) for path in PATHS)
        same = "yes" if a["chosen"] == b["chosen"] == c["chosen"] else "NO"
        rows.append([
            f"{n:,}", f"{a['wall']:.2f}", f"{b['wall']:.2f}", f"{c['wall']:.2f}",
            f"{a['cpu']:.2f}", f"{b['cpu']:.2f}", f"{c['cpu']:.2f}",
            f"{a['rss_mib']:.0f}", f"{b['rss_mib']:.0f}", f"{c['rss_mib']:.0f}",
            f"{a['wall'] / b['wall']:.2f}", f"{c['wall'] / a['wall']:.2f}", same,
        ])  # fmt: skip
    print(
        f"\nuncertainty query, n_instances={N_INSTANCES}, BERT hidden {HIDDEN}, "
        f"{LAYERS} layers, 128 tokens; wall and CPU time: median of {args.repeats} "
        "(s); memory: RSS growth during a query (MiB)"
    )
    print_table(
        [
            "texts", "adapter", "bare", "Trainer", "cpu a", "cpu b", "cpu T",
            "MiB a", "MiB b", "MiB T", "adapter/bare", "Trainer/adapter",
            "same rows",
        ],
        rows,
    )  # fmt: skip
    print(f"after: load {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
