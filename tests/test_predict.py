"""predict's input handling (no model needed): pairing, CSV, dialogue contexts, masks."""

import numpy as np
import pytest

from meld_tf import predict
from meld_tf.data.sample import write_clip
from meld_tf.predict import InputError, contexts_of, make_example, read_inputs

MEDIA = {"num_frames": 2, "frame_size": 16, "sample_rate": 16000}


def test_clips_and_texts_pair_in_order():
    inputs = read_inputs(["a.mp4", "b.mp4"], ["one", "two"], None)
    assert [(i["clip"], i["text"]) for i in inputs] == [("a.mp4", "one"), ("b.mp4", "two")]
    assert [i["name"] for i in read_inputs([], ["hi"], None)] == ["text 'hi'"]
    with pytest.raises(ValueError, match="one --text per clip"):
        read_inputs(["a.mp4", "b.mp4"], ["1", "2", "3"], None)


def test_one_text_for_several_clips_is_an_error_not_dropped(tmp_path, capsys):
    with pytest.raises(ValueError, match="2 clips and 1 --text: give one --text per clip"):
        read_inputs(["a.mp4", "b.mp4"], ["Hi"], None)
    with pytest.raises(SystemExit) as exit_info:
        predict.main([str(tmp_path), "a.mp4", "b.mp4", "--text", "Hi"])
    assert exit_info.value.code == 2
    assert "give one --text per clip" in capsys.readouterr().err
    one = read_inputs(["a.mp4"], ["Hi"], None)
    assert [(i["clip"], i["text"]) for i in one] == [("a.mp4", "Hi")]


def test_csv_paths_are_relative_to_the_csv(tmp_path):
    path = tmp_path / "inputs.csv"
    path.write_text("clip,text,speaker,dialogue\nx.mp4,hello,Ross,1\n,bye,,\n", encoding="utf-8")
    inputs = read_inputs([], [], str(path))
    assert inputs[0]["clip"] == str(tmp_path / "x.mp4") and inputs[0]["speaker"] == "Ross"
    assert inputs[1]["clip"] is None and inputs[1]["dialogue"] is None
    (tmp_path / "bad.csv").write_text("file,words\na,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a 'clip' or a 'text' column"):
        read_inputs([], [], str(tmp_path / "bad.csv"))


def test_contexts_come_from_earlier_rows_of_the_same_dialogue(tmp_path):
    path = tmp_path / "dialogue.csv"
    path.write_text(
        "text,speaker,dialogue\nHi.,Ross,a\nHey!,Rachel,a\nYo.,Joey,b\nWhat?,Ross,a\n",
        encoding="utf-8",
    )
    contexts = contexts_of(read_inputs([], [], str(path)), num_turns=2)
    assert contexts == {0: "", 1: "Ross: Hi.", 2: "", 3: "Rachel: Hey! Ross: Hi."}


def test_examples_mask_what_an_input_lacks(tmp_path):
    clip = tmp_path / "silent.mp4"
    write_clip(clip, frames=np.full((4, 24, 40, 3), 128, np.uint8))
    item = {"clip": str(clip), "text": None, "speaker": "", "name": str(clip)}
    example, absent = make_example(item, ("text", "audio", "video"), MEDIA)
    assert example["has_video"] and not example["has_audio"] and not example["has_text"]
    assert example["frames"].shape == (2, 16, 16, 3)
    assert set(absent) == {"text", "audio"}


def test_unusable_inputs_are_one_line_errors(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00" * 100)
    item = {"clip": str(corrupt), "text": "hi", "speaker": "", "name": str(corrupt)}
    with pytest.raises(InputError, match="corrupt.mp4"):
        make_example(item, ("text", "audio"), MEDIA)
    text_only = {"clip": None, "text": None, "speaker": "", "name": "empty"}
    with pytest.raises(InputError, match="none of the model's modalities"):
        make_example(text_only, ("text",), MEDIA)
    clip_for_text_model = {"clip": "x.mp4", "text": None, "speaker": "", "name": "x.mp4"}
    with pytest.raises(InputError, match="uses only text"):
        make_example(clip_for_text_model, ("text",), None)
