"""TextPreprocessor (tokenizer + dialogue context packing) and the dialogue contexts."""

import numpy as np
import pytest
import tensorflow as tf
from helpers import run_layer_test
from meld_split import first_batch, make_config

from meld_tf.models import TextTokenizer
from meld_tf.models.mpnet_tokenizer import MPNetTokenizer
from meld_tf.preprocessing import TextPreprocessor, dialogue_contexts
from meld_tf.preprocessing.text_preprocessor import trim_text
from meld_tf.train_config import TrainConfig

TEXTS = ["hello there", "", "oh my god"]
CONTEXTS = ["Ross: hi", "", "Joey: how you doing"]
MPNET_VOCAB = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "hi", "!", "cafe", "<mask>"]


def bilstm_tokenizer():
    tokenizer = TextTokenizer("bilstm", max_length=8, vocab_size=20)
    tokenizer.adapt(TEXTS + CONTEXTS)
    return tokenizer


def test_dialogue_contexts_most_recent_first_and_per_dialogue():
    rows = [(0, 1, "B", "two"), (0, 0, "A", "one"), (1, 0, "C", "other"), (0, 2, "C", "three")]
    contexts = dialogue_contexts(rows, num_turns=2)
    assert contexts == {"0/0": "", "0/1": "A: one", "0/2": "B: two A: one", "1/0": ""}
    assert dialogue_contexts(rows, num_turns=1)["0/2"] == "B: two"


def test_dialogue_contexts_with_next_turns():
    rows = [(0, 1, "B", "two"), (0, 0, "A", "one"), (1, 0, "C", "other"), (0, 2, "C", "three")]
    contexts = dialogue_contexts(rows, num_turns=1, num_next=2)
    assert contexts == {"0/0": "Next: B: two C: three", "0/1": "A: one Next: C: three",
                        "0/2": "B: two", "1/0": ""}  # fmt: skip
    assert dialogue_contexts(rows, num_turns=0, num_next=1)["0/0"] == "Next: B: two"


def test_template_reads_the_speaker_as_the_filled_string_does():
    tokenizer = TextTokenizer("bilstm", max_length=8, vocab_size=20)
    tokenizer.adapt(["Ross: hello there", "Joey: oh my god", "now Ross feels"])
    plain = TextPreprocessor(tokenizer)
    templated = TextPreprocessor(tokenizer, template="{speaker}: {text} now {speaker} feels")
    texts, speakers = tf.constant(["hello there", "oh my god"]), tf.constant(["Ross", "Joey"])
    filled = [f"{s}: {t} now {s} feels" for s, t in (("Ross", "hello there"),
                                                   ("Joey", "oh my god"))]  # fmt: skip
    expected = plain(tf.constant(filled))
    outputs = templated(texts, speaker=speakers)
    for name, value in expected.items():
        np.testing.assert_array_equal(outputs[name], value)
    assert outputs["text_padding_mask"].numpy()[0].sum() == 6  # "ross hello there now ross feels"
    no_speaker = templated(texts)  # No speaker given: an empty name.
    np.testing.assert_array_equal(
        no_speaker["text_token_ids"], plain(tf.constant([f": {t} now  feels" for t in
                                                         ("hello there", "oh my god")]))
        ["text_token_ids"])  # fmt: skip


@pytest.mark.parametrize("template", ["{txt}", "no field", "{speaker}", "{text", "{text} {0}"])
def test_a_bad_template_is_refused_with_the_flag(template):
    with pytest.raises(ValueError, match="--text-template"):
        TrainConfig(text_template=template)


def test_context_is_the_second_segment():
    (plain, _), _ = first_batch(make_config(context=0).replace(modalities=("text",)))
    (with_context, _), _ = first_batch(make_config(context=2).replace(modalities=("text",)))
    plain_length = plain["text_padding_mask"].numpy().sum(-1)
    context_length = with_context["text_padding_mask"].numpy().sum(-1)
    # Utterance 0/0 has no context (+ separator only); 0/1 has "ross hi there" (+4 tokens).
    assert context_length[0] == plain_length[0] + 1
    assert context_length[1] == plain_length[1] + 4


def test_layer_and_config_round_trip_bilstm():
    outputs = run_layer_test(
        TextPreprocessor,
        {"tokenizer": bilstm_tokenizer().get_config(), "context": 1,
         "template": "{speaker} {text}"},
        tf.constant(TEXTS),
        expected_output_shape=[(3,), (3, 8), (3, 8)],  # mask, padding mask, token ids
        call_kwargs={"context": tf.constant(CONTEXTS), "present": tf.constant([True, False, True]),
                     "speaker": tf.constant(["Ross", "Joey", ""])},
        expect_trainable=False,
    )
    np.testing.assert_array_equal(outputs["text_mask"], [1, 0, 1])


def test_layer_and_config_round_trip_bert():
    tokenizer = TextTokenizer("bert", 10, bert_tokenizer=MPNetTokenizer(vocabulary=MPNET_VOCAB))
    outputs = run_layer_test(
        TextPreprocessor,
        {"tokenizer": tokenizer.get_config(), "context": 2},
        tf.constant(["hi", "cafe!"]),
        expected_output_shape=[(2,), (2, 10), (2, 10), (2, 10)],
        call_kwargs={"context": tf.constant(["cafe!", ""])},
        expect_trainable=False,
    )
    assert outputs["text_token_ids"].numpy()[0].tolist() == [0, 5, 2, 2, 7, 6, 2, 1, 1, 1]
    np.testing.assert_array_equal(outputs["text_mask"], [1, 1])


def test_no_context_is_an_empty_context_and_a_context_free_layer_ignores_one():
    tokenizer = bilstm_tokenizer()
    with_context = TextPreprocessor(tokenizer, context=1)
    empty = with_context(tf.constant("hello there"), tf.constant(""))
    for name, value in with_context(tf.constant("hello there")).items():
        np.testing.assert_array_equal(value, empty[name])
    plain = TextPreprocessor(tokenizer, context=0)
    alone = plain(tf.constant("hello there"))
    for name, value in plain(tf.constant("hello there"), tf.constant("Ross: hi")).items():
        np.testing.assert_array_equal(value, alone[name])
    assert alone["text_padding_mask"].numpy().sum() == 2  # no separator: no second segment
    assert alone["text_mask"].shape == () and float(alone["text_mask"]) == 1.0
    python = plain("hello there", present=False)  # Python values, as predict's examples
    np.testing.assert_array_equal(python["text_token_ids"], alone["text_token_ids"])
    assert float(python["text_mask"]) == 0.0


def test_trim_text_cuts_a_batch_to_its_longest_text():
    layer = TextPreprocessor(bilstm_tokenizer())
    batch = {**layer(tf.constant(TEXTS)), "audio_mask": tf.ones([3])}
    trimmed = trim_text(batch)
    assert trimmed["text_token_ids"].shape == (3, 3) and trimmed["text_mask"].shape == (3,)
    assert trimmed["audio_mask"].shape == (3,)
