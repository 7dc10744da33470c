"""A trained run as one TensorFlow function of raw inputs, and its SavedModel export.

The serving function does what ``meld_tf.predict`` does after decoding a clip:
tokenisation (and context packing), audio features and frame sampling, then the model,
inside one ``tf.function``. Its inputs are batched and named (only the run's modalities):

- ``text``: UTF-8 strings ``(B,)``; an empty string masks the text. With a run trained
  with ``--context N`` or ``--future-context N``, also ``context`` ``(B,)``: the other
  turns, as ``meld_tf.predict`` writes them (``"Speaker: text"``, latest first, then
  ``"Next:"`` and the next turns; "" for none). With a ``--text-template`` that reads
  ``{speaker}``, also ``speaker`` ``(B,)``: the utterance's speaker.
- ``waveform``: float32 ``(B, N)`` mono in [-1, 1] at the run's sample rate, and
  ``waveform_length`` int32 ``(B,)``: the samples of each row that are audio (0 masks
  the audio).
- ``frames``: uint8 RGB ``(B, T, H, W, 3)``, square frames of any size (resized to the
  run's frame size), the faces when the run reads faces; and ``num_frames`` int32
  ``(B,)``: the frames of each row that are video (0 masks the video).

Outputs: ``emotion`` ``(B, 7)`` and ``sentiment`` ``(B, 3)`` probabilities (label order of
`meld_tf.labels`), and for attention fusion ``fusion_weights`` ``(B, M)`` (modalities in
the run's order).

The exported SavedModel (``MeldClassifier.export``; ``python -m meld_tf.export``) needs only
``tensorflow`` and ``tensorflow-text`` to load::

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer's ops)

    model = tf.saved_model.load("exported")
    outputs = model.serve(text=tf.constant(["Oh my God!"]))
"""

import inspect

import keras
import tensorflow as tf

from meld_tf.batching import finish_inputs
from meld_tf.labels import HEADS
from meld_tf.models import attention_weights_model

ENDPOINT = "serve"


def input_signature(config):
    """The named ``tf.TensorSpec`` of every serving input of a run's ``TrainConfig``."""
    modalities = config.model.modalities
    specs = []
    if "text" in modalities:
        specs.append(tf.TensorSpec([None], tf.string, name="text"))
        if config.dialogue_context:
            specs.append(tf.TensorSpec([None], tf.string, name="context"))
        if config.reads_speaker:
            specs.append(tf.TensorSpec([None], tf.string, name="speaker"))
    if "audio" in modalities:
        specs += [tf.TensorSpec([None, None], tf.float32, name="waveform"),
                  tf.TensorSpec([None], tf.int32, name="waveform_length")]  # fmt: skip
    if "video" in modalities:
        specs += [tf.TensorSpec([None, None, None, None, 3], tf.uint8, name="frames"),
                  tf.TensorSpec([None], tf.int32, name="num_frames")]  # fmt: skip
    return specs


def _serving_model(model):
    """``model`` with the outputs a run serves: its `HEADS`, and the attention weights when
    it has them; not the encoders' auxiliary emotion heads, which only train."""
    outputs = {head: model.output[head] for head in HEADS}
    try:
        outputs["fusion_weights"] = attention_weights_model(model).output
    except ValueError:  # Not attention fusion: no weights to serve.
        pass
    if set(outputs) == set(model.output):
        return model
    return keras.Model(model.input, outputs, name=f"{model.name}_serving")


class Serving:
    """The serving function of a run: ``Serving(config, model, preprocessor)(**inputs)``.

    ``function`` is the ``tf.function`` with the signature of ``input_signature``;
    calling the object calls it (``meld_tf.predict``'s answers, to float rounding).
    """

    def __init__(self, config, model, preprocessor):
        self.config = config
        self.model = _serving_model(model)
        self.preprocessor = preprocessor
        self.names = [spec.name for spec in input_signature(config)]

        def serve(*args):
            return self._serve(dict(zip(self.names, args)))

        # Named parameters: the SavedModel's function and signature take keyword inputs.
        serve.__signature__ = inspect.Signature(
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
             for name in self.names]  # fmt: skip
        )
        self.function = tf.function(serve, input_signature=input_signature(config))

    def __call__(self, **inputs):
        missing = sorted(set(self.names) - set(inputs))
        if missing:
            raise ValueError(f"Missing serving inputs {missing}; this run takes {self.names}.")
        return self.function(**{name: inputs[name] for name in self.names})

    def model_inputs(self, inputs):
        """The model's input dict of a batch of raw ``inputs`` (see the module doc), made
        by the run's preprocessing layers (`meld_tf.preprocessing`) and finished as the
        training batches are (`meld_tf.batching.finish_inputs`)."""
        preprocessor = self.preprocessor
        result = {}
        if "text" in inputs:
            text = inputs["text"]
            present = tf.strings.length(text) > 0
            result.update(preprocessor.text(text, inputs.get("context"), inputs.get("speaker"),
                                            present=present))  # fmt: skip
        if "waveform" in inputs:

            def clip_audio(row):
                waveform, length = row
                return preprocessor.audio(waveform[:length], present=length > 0)

            signature = {"audio_features": tf.float32, "audio_mask": tf.float32}
            result.update(tf.map_fn(clip_audio, (inputs["waveform"], inputs["waveform_length"]),
                                    fn_output_signature=signature))  # fmt: skip
        if "frames" in inputs:

            def clip_frames(row):
                frames, count = row
                frames = frames[: tf.maximum(count, 1)]  # A masked clip reads black frames.
                frames = tf.where(count > 0, frames, tf.zeros_like(frames))
                return preprocessor.video(frames, present=count > 0)

            signature = {"video_frames": tf.uint8, "video_mask": tf.float32}
            result.update(tf.map_fn(clip_frames, (inputs["frames"], inputs["num_frames"]),
                                    fn_output_signature=signature))  # fmt: skip
        return finish_inputs(result, self.config)

    def _serve(self, inputs):
        outputs = self.model(self.model_inputs(inputs), training=False)
        return {name: tf.cast(value, tf.float32) for name, value in outputs.items()}


def write_saved_model(serving, out_dir):
    """Writes ``serving`` (a ``Serving``) to ``out_dir`` as a SavedModel whose endpoint
    ``serve`` is its function; returns ``serving``."""
    serving.function.get_concrete_function()  # Traced once: every layer is built.
    archive = keras.export.ExportArchive()
    archive.track(serving.model)
    for layer in serving.preprocessor.tokenizer.layers():
        archive.track(layer)
    archive.add_endpoint(ENDPOINT, serving.function)
    archive.write_out(out_dir, verbose=False)
    return serving
