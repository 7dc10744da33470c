"""Normalisation inside the encoders trained from scratch (audio CNN, video CNNs).

``ModelConfig.norm`` chooses:

* ``"batch"`` (the default): BatchNormalization. Centring each channel over the batch
  removes what every example shares (the average face, the average spectrum) and leaves
  what tells them apart; measured on the sample's video (840 training clips, 32-pixel
  faces), a CNN with it learns the expressions where the same CNN with GroupNormalization
  collapses to the class prior. Its moving averages (momentum 0.99) have not converged
  after the few hundred steps of a small dataset, so inference would normalise with the
  wrong statistics: `reestimate_batch_norm` recomputes them from training batches with the
  current weights before each validation (`meld_tf.callbacks.BatchNormStatistics`), and
  the saved model carries the re-estimated statistics.
* ``"group"``: GroupNormalization, statistics from each example alone (the same in
  training and inference), in at most ``config.norm_groups`` groups.
"""

import keras


def encoder_norm(channels, config, name):
    """The normalisation layer of ``config.norm`` over ``channels``."""
    if config.norm == "batch":
        return keras.layers.BatchNormalization(name=name)
    groups = max(g for g in range(1, min(config.norm_groups, channels) + 1) if channels % g == 0)
    return keras.layers.GroupNormalization(groups=groups, name=name)


def batch_norm_layers(layer):
    """Every BatchNormalization inside ``layer`` (nested models, wrappers)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return [layer]
    if isinstance(layer, keras.layers.Wrapper):
        return batch_norm_layers(layer.layer)
    return [found for child in getattr(layer, "layers", []) for found in batch_norm_layers(child)]


def reestimate_batch_norm(model, batches, max_batches):
    """Sets the moving mean and variance of every BatchNormalization in ``model``'s
    encoders to the average of its batch statistics over the first ``max_batches`` of
    ``batches`` (``(inputs, ...)`` tuples), computed with the current weights.

    Only the encoders that hold such layers are run (in training mode, which has them use
    and record batch statistics); they hold no dropout, so no random state is consumed.
    Returns the number of batches used (0 if the model has no BatchNormalization).
    """
    encoders = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and batch_norm_layers(layer)
    ]
    layers = [norm for encoder in encoders for norm in batch_norm_layers(encoder)]
    if not layers or max_batches < 1:
        return 0
    momenta = [norm.momentum for norm in layers]
    count = 0
    try:
        for count, batch in enumerate(batches, 1):
            for norm in layers:  # The running average of the batches so far.
                norm.momentum = (count - 1) / count
            inputs = batch[0]
            for encoder in encoders:
                encoder({name: inputs[name] for name in encoder.input}, training=True)
            if count == max_batches:
                break
    finally:
        for norm, momentum in zip(layers, momenta):
            norm.momentum = momentum
    return count
