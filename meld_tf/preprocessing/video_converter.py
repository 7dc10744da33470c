"""Video preprocessing: a clip's frames -> the video encoder's frames (count, size, scale)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="meld_tf")
class VideoConverter(keras.layers.Layer):
    """Picks ``num_frames`` frames of a clip evenly, sized ``frame_size``, and the video mask.

    The frames stay uint8 (what the cache of a split holds); ``frames_to_float`` turns a
    batch of them into the model's float32 in [0, 1].

    Args:
        num_frames: frames given to the model (``ModelConfig.num_frames``).
        frame_size: their side in pixels (``ModelConfig.frame_size``).
        **kwargs: ``keras.layers.Layer`` arguments; ``dtype`` is float32.

    Call arguments:
        frames: one clip's uint8 RGB frames ``(T, H, W, 3)``, square, T >= 1; resized
            (antialiased, rounded) unless their static size is already ``frame_size``.
        present: scalar bool, or None (True): whether the clip has video.

    Returns:
        ``{"video_frames": (num_frames, frame_size, frame_size, 3) uint8,
        "video_mask": () float32}``.

    Example:
    >>> converter = VideoConverter(num_frames=2, frame_size=8)
    >>> converter(tf.zeros([5, 16, 16, 3], tf.uint8))["video_frames"].shape
    TensorShape([2, 8, 8, 3])
    """

    def __init__(self, num_frames=8, frame_size=112, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_frames = num_frames
        self.frame_size = frame_size
        self.built = True

    def call(self, frames, present=None):
        frames = tf.convert_to_tensor(frames)
        resize = tuple(frames.shape[1:3]) != (self.frame_size, self.frame_size)
        return {
            "video_frames": sample_frames(frames, self.num_frames, self.frame_size, resize),
            "video_mask": tf.cast(True if present is None else present, tf.float32),
        }

    def get_config(self):
        config = super().get_config()
        config.update({"num_frames": self.num_frames, "frame_size": self.frame_size})
        return config


def sample_frames(frames, count, size, resize=True):
    """``count`` frames picked evenly from uint8 ``frames`` ``(T, H, W, 3)``, resized to
    ``size`` (antialiased, rounded) unless ``resize`` is False; stays uint8."""
    last = tf.cast(tf.shape(frames)[0] - 1, tf.float32)
    index = tf.cast(tf.round(tf.linspace(0.0, last, count)), tf.int32)
    frames = tf.gather(frames, tf.maximum(index, 0))
    if resize:
        resized = tf.image.resize(frames, (size, size), antialias=True)
        frames = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    return tf.ensure_shape(frames, (count, size, size, 3))


def frames_to_float(frames):
    """uint8 frames (any batch shape) -> float32 in [0, 1], as the video encoder takes them."""
    return tf.cast(frames, tf.float32) / 255.0
