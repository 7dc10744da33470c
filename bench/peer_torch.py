"""The PyTorch peer of ``bench/peer_speed.py``: transformers' BERT, mean pooling, meld-tf's head.

Runs in its own venv (``bench/requirements-peer.txt``; never imports meld_tf).
``peer_speed.py`` starts it and sends one JSON command per line on stdin; each answer is
one JSON line on stdout (everything else goes to stderr):

* ``{"op": "load", "examples": PATH}``: the train and test texts (``[text, context or
  null, emotion, sentiment]``), tokenized here once. The tokens are packed like meld-tf's
  (``[CLS] utterance [SEP] context [SEP]``, the context cut first). The training batches
  of one epoch are those of the Trainer's ``group_by_length``
  (``get_length_grouped_indices``), each padded to its longest text by
  ``DataCollatorWithPadding``. Answers the ``[size, length]`` of each batch and the
  tokens of each training text.
* ``{"op": "train", "indices": [...] or "same": PATH, "warmup": W, "bf16": B}``: runs
  the warm-up batches and then the timed ones (``indices`` of the epoch's batches, or
  meld-tf's padded batches from an ``.npz``). Answers utterances/s.
* ``{"op": "latency", "n": N}``: one test utterance at a time, tokenization included
  (seconds per call). ``{"op": "batch64", "n": N}``: N batches of 64 test utterances,
  tokenized beforehand (utterances/s). Both after an untimed pass over the same inputs.

The training step is a plain loop (autocast, loss, backward, ``torch.optim.AdamW`` with
meld-tf's rates and decay): the Trainer's sampler and collator, without its logging or
gradient clipping (meld-tf clips no gradient).
"""

import argparse
import json
import sys
import time

try:
    import numpy as np
    import torch
    from torch import nn
    from transformers import AutoModel, AutoTokenizer, DataCollatorWithPadding
    from transformers import __version__ as transformers_version
    from transformers.trainer_pt_utils import get_length_grouped_indices
except ImportError as error:
    sys.exit(f"peer_torch.py: {error}. Install bench/requirements-peer.txt in this venv.")

LOSS_WEIGHTS = (1.0, 0.5)  # meld-tf's defaults, as its label smoothing 0.1


class PeerModel(nn.Module):
    """Backbone, masked mean pooling, then meld-tf's text head: a 128 ReLU projection,
    its (one-modality) attention fusion scorer, dropout 0.3, a 128 ReLU layer, dropout,
    and the emotion (7) and sentiment (3) heads."""

    def __init__(self, model_dir, latent=128, hidden=128, dropout=0.3):
        super().__init__()
        self.backbone = AutoModel.from_pretrained(model_dir, add_pooling_layer=False)
        self.latent = nn.Linear(self.backbone.config.hidden_size, latent)
        self.score = nn.Linear(latent, latent)
        self.score_vector = nn.Parameter(torch.randn(latent) / latent**0.5)
        self.hidden = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(latent, hidden), nn.ReLU(), nn.Dropout(dropout)
        )
        self.emotion, self.sentiment = nn.Linear(hidden, 7), nn.Linear(hidden, 3)

    def forward(self, input_ids, token_type_ids, attention_mask):
        tokens = self.backbone(
            input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask
        ).last_hidden_state
        mask = attention_mask[:, :, None].to(tokens.dtype)
        latent = torch.relu(self.latent((tokens * mask).sum(1) / mask.sum(1).clamp(min=1)))
        scores = (torch.tanh(self.score(latent)) * self.score_vector).sum(-1, keepdim=True)
        hidden = self.hidden(latent * torch.softmax(scores, dim=1))
        return self.emotion(hidden), self.sentiment(hidden)


class Peer:
    def __init__(self, args):
        self.args = args
        self.tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
        self.collate = DataCollatorWithPadding(self.tokenizer, return_tensors="pt")
        self.model = PeerModel(args.model_dir)
        backbone = set(map(id, self.model.backbone.parameters()))
        groups = {}  # (pretrained, decayed) -> parameters; AdamW as meld-tf's
        for name, weight in self.model.named_parameters():
            decayed = not (name.endswith("bias") or "LayerNorm" in name)
            groups.setdefault((id(weight) in backbone, decayed), []).append(weight)
        self.optimizer = torch.optim.AdamW([
            {"params": p, "lr": 1e-4 if pretrained else 1e-3, "weight_decay": 0.01 * decayed}
            for (pretrained, decayed), p in groups.items()
        ])  # fmt: skip

    def encode(self, text, context):
        """meld-tf's packing: ``[CLS] a [SEP] (b [SEP])``, ``waterfall`` truncation."""
        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        budget = self.args.max_length
        a = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if context is None:
            a = a[: budget - 2]
            return {"input_ids": [cls, *a, sep], "token_type_ids": [0] * (len(a) + 2)}
        a = a[: budget - 3]
        b = self.tokenizer(context, add_special_tokens=False)["input_ids"][: budget - 3 - len(a)]
        segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        return {"input_ids": [cls, *a, sep, *b, sep], "token_type_ids": segments}

    def batch(self, rows):
        features = [r["features"] for r in rows]
        inputs = self.collate([dict(f, attention_mask=[1] * len(f["input_ids"])) for f in features])
        labels = [torch.tensor([r[k] for r in rows]) for k in ("emotion", "sentiment")]
        return dict(inputs), labels

    def load(self, examples):
        with open(examples, encoding="utf-8") as file:
            data = json.load(file)
        keys = ("text", "context", "emotion", "sentiment")
        self.rows = {split: [dict(zip(keys, item), features=self.encode(*item[:2]))
                             for item in items] for split, items in data.items()}  # fmt: skip
        train = self.rows["train"]
        lengths = [len(r["features"]["input_ids"]) for r in train]
        generator = torch.Generator().manual_seed(self.args.seed)
        order = get_length_grouped_indices(lengths, self.args.batch_size, generator=generator)
        size = self.args.batch_size
        self.batches = [self.batch([train[i] for i in order[k : k + size]])
                        for k in range(0, len(order), size)]  # fmt: skip
        test = self.rows["test"]
        self.test_batches = [self.batch(test[k : k + 64])[0] for k in range(0, len(test), 64)]
        shapes = [list(b[0]["input_ids"].shape) for b in self.batches]
        return {"batches": shapes, "real_tokens_per_utterance": float(np.mean(lengths)),
                "lengths": lengths}  # fmt: skip

    def step(self, inputs, labels, bf16):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            emotion, sentiment = self.model(**inputs)
        loss = sum(
            w * nn.functional.cross_entropy(logits.float(), y, label_smoothing=0.1)
            for w, logits, y in zip(LOSS_WEIGHTS, (emotion, sentiment), labels)
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def train(self, warmup, bf16, indices=None, same=None):
        if same:
            arrays = np.load(same)

            def tensor(key, i):
                return torch.from_numpy(arrays[f"{key}{i}"]).long()

            batches = [({"input_ids": tensor("ids", i), "token_type_ids": tensor("segments", i),
                         "attention_mask": tensor("mask", i)},
                        [tensor("emotion", i), tensor("sentiment", i)])
                       for i in range(int(arrays["count"]))]  # fmt: skip
        else:
            batches = [self.batches[i] for i in indices]
        self.model.train()
        for inputs, labels in batches[:warmup]:
            self.step(inputs, labels, bf16)
        start = time.perf_counter()
        for inputs, labels in batches:
            self.step(inputs, labels, bf16)
        utterances = sum(len(labels[0]) for _, labels in batches)
        return {"utterances_per_s": utterances / (time.perf_counter() - start)}

    @torch.inference_mode()
    def latency(self, n):
        self.model.eval()
        test, seconds = self.rows["test"], []
        for i in range(2 * n):  # As meld-tf's: the first pass untimed.
            row, start = test[i % n % len(test)], time.perf_counter()
            features = self.encode(row["text"], row["context"])
            inputs = {k: torch.tensor([v]) for k, v in features.items()}
            inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
            torch.softmax(self.model(**inputs)[0], -1)
            if i >= n:
                seconds.append(time.perf_counter() - start)
        return {"seconds": seconds}

    @torch.inference_mode()
    def batch64(self, n):
        self.model.eval()
        batches = [self.test_batches[i % len(self.test_batches)] for i in range(n)]
        for inputs in batches:  # Untimed, as meld-tf's.
            self.model(**inputs)
        start = time.perf_counter()
        for inputs in batches:
            torch.softmax(self.model(**inputs)[0], -1)
        count = sum(len(b["input_ids"]) for b in batches)
        return {"utterances_per_s": count / (time.perf_counter() - start)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, help="Hugging Face folder of the model")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    answers, sys.stdout = sys.stdout, sys.stderr  # Only answers on the real stdout.
    torch.manual_seed(args.seed)
    peer = Peer(args)
    ready = {"torch": torch.__version__, "transformers": transformers_version,
             "threads": torch.get_num_threads(),
             "attention": peer.model.backbone.config._attn_implementation}  # fmt: skip
    print(json.dumps(ready), file=answers, flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        if op == "quit":
            break
        print(json.dumps(getattr(peer, op)(**command)), file=answers, flush=True)


if __name__ == "__main__":
    main()
