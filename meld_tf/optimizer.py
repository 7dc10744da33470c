"""The optimizer: AdamW with a learning rate of its own for each part of the model.

A pretrained encoder is fine-tuned gently (``TrainConfig.pretrained_lr``, 1e-4 by default)
while the encoders trained from scratch, the fusion and the heads learn ten times faster
(``TrainConfig.scratch_lr``, 1e-3); ``--lr`` sets one rate for every part instead. The
optimizer's own learning rate is the scratch rate (what ``ReduceLROnPlateau`` lowers), and
each pretrained weight's step is scaled by ``pretrained_lr / scratch_lr``, so a reduction
keeps the ratio.
"""

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops

from meld_tf.models.mpnet_backbone import MPNetBackbone

DECAY_EXCLUDE = ("bias", "gamma", "beta")  # AdamW does not decay these


@keras.saving.register_keras_serializable(package="meld_tf")
class PartwiseAdamW(keras.optimizers.Adam):
    """AdamW whose learning rate is scaled per weight.

    Args:
        learning_rate: the base rate.
        multipliers: ``{weight path: multiplier}``; a weight not listed uses the base rate.
        decoupled_weight_decay: AdamW's weight decay, applied with each weight's own rate
            (``w -= w * decay * rate``) before the Adam step.
        decay_exclude: weights whose name contains one of these are not decayed.
        warmup_steps: the rate rises linearly from ``1 / warmup_steps`` of itself to all of
            it over the first ``warmup_steps`` steps (0: no warm-up). Adam's first steps
            move every weight by about the rate whatever its gradient: in a wide layer
            trained from scratch, a full-rate first step outweighs the initialisation and
            can collapse its features onto one direction for good.
        **kwargs: passed to ``keras.optimizers.Adam``.
    """

    def __init__(self, learning_rate=1e-3, multipliers=None, decoupled_weight_decay=0.0,
                 decay_exclude=DECAY_EXCLUDE, warmup_steps=0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.multipliers = dict(multipliers or {})
        self.decoupled_weight_decay = decoupled_weight_decay
        self.decay_exclude = tuple(decay_exclude)
        self.warmup_steps = int(warmup_steps)

    def build(self, variables):
        super().build(variables)
        # Per weight, in the order of `_get_variable_index` (the backend may hand
        # `update_step` its own variable objects, without Keras's path and name). The
        # scales are a variable: `freeze` changes them during training, and they are saved
        # with the optimizer (a resumed run keeps them).
        scales = np.array([self.multipliers.get(v.path, 1.0) for v in variables], "float32")
        self._scales = self.add_variable(
            scales.shape, initializer=lambda shape, dtype: scales.astype(dtype),
            name="rate_scales",
        )
        self._decayed = [not any(n in v.name for n in self.decay_exclude) for v in variables]

    def freeze(self, variables):
        """From the next step on, ``variables`` (trainable weights of the model) no longer
        change: their rate, and so their Adam step and weight decay, is 0."""
        scales = ops.convert_to_numpy(self._scales).copy()
        for variable in variables:
            scales[self._get_variable_index(variable)] = 0.0
        self._scales.assign(scales)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        rate = ops.cast(learning_rate, variable.dtype) * ops.cast(self._scales[index],
                                                                   variable.dtype)
        if self.warmup_steps:
            done = ops.cast(self.iterations + 1, variable.dtype) / self.warmup_steps
            rate = rate * ops.minimum(done, 1.0)
        if self.decoupled_weight_decay and self._decayed[index]:
            decay = ops.cast(self.decoupled_weight_decay, variable.dtype)
            self.assign(variable, variable - variable * decay * rate)
        if self.amsgrad or tf.distribute.has_strategy():
            super().update_step(gradient, variable, rate)
        else:
            self._fused_adam_step(gradient, variable, rate, index)

    def _fused_adam_step(self, gradient, variable, rate, index):
        """``keras.optimizers.Adam.update_step`` (the same formula, the same moment
        variables) as TensorFlow's one fused kernel, ``ResourceApplyAdam``: Keras's step is
        eleven passes over every weight, costly on the embedding of a text encoder
        (MiniLM: 11.7M of its 22.7M weights). Under a ``tf.distribute`` strategy, Keras's
        step (it updates mirrored variables)."""
        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]), beta1_power=ops.power(beta_1, step),
            beta2_power=ops.power(beta_2, step), lr=rate, beta1=beta_1, beta2=beta_2,
            epsilon=ops.cast(self.epsilon, dtype),
            grad=tf.convert_to_tensor(ops.cast(gradient, dtype)),  # An embedding's: dense.
        )  # fmt: skip

    def get_config(self):
        config = super().get_config()
        config.update({
            "multipliers": self.multipliers,
            "decoupled_weight_decay": self.decoupled_weight_decay,
            "decay_exclude": list(self.decay_exclude),
            "warmup_steps": self.warmup_steps,
        })  # fmt: skip
        return config


def _handle(variable):
    """The resource handle of a Keras variable or of the ``tf.Variable`` behind one."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


def pretrained_weights(model, config):
    """The trainable weights of ``model`` that come from pretrained backbones: the BERT or
    MPNet of a pretrained ``text_preset`` (not the random ``bert_tiny``) and a ResNet
    ``video_preset``. The encoders' projections, the fusion and the heads are new."""
    pretrained = []
    if config.text_encoder == "bert" and config.text_preset != "bert_tiny":
        pretrained += [keras_hub.models.BertBackbone, MPNetBackbone]
    if config.video_preset:
        pretrained.append(keras_hub.models.ResNetBackbone)
    found = []

    def visit(layer):
        if pretrained and isinstance(layer, tuple(pretrained)):
            found.extend(layer.trainable_weights)
        elif hasattr(layer, "layers"):
            for child in layer.layers:
                visit(child)
        elif isinstance(layer, keras.layers.Wrapper):
            visit(layer.layer)

    visit(model)
    return found


def make_optimizer(model, config):
    """The `PartwiseAdamW` of a ``TrainConfig``: one rate (``learning_rate``) if set, else
    ``scratch_lr`` with ``pretrained_lr`` for the pretrained backbones."""
    if config.learning_rate:
        base, multipliers = config.learning_rate, {}
    else:
        base = config.scratch_lr
        scale = config.pretrained_lr / config.scratch_lr
        multipliers = {w.path: scale for w in pretrained_weights(model, config.model)}
    return PartwiseAdamW(
        learning_rate=base, multipliers=multipliers,
        decoupled_weight_decay=config.weight_decay, warmup_steps=config.warmup_steps,
    )
