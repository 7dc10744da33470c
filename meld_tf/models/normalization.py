"""Normalisation for the encoders trained from scratch: nothing that must settle.

BatchNormalization normalises with batch statistics while training and with moving averages
(momentum 0.99) at inference; after the few hundred steps of a small dataset the averages
have not converged, and a model that is right in training mode is near chance in inference
mode. GroupNormalization computes its statistics from each example alone, the same way in
both modes.
"""

import keras


def group_norm(channels, config, name):
    """A GroupNormalization over ``channels``: the most groups that divide them, at most
    ``config.norm_groups``."""
    groups = max(g for g in range(1, min(config.norm_groups, channels) + 1) if channels % g == 0)
    return keras.layers.GroupNormalization(groups=groups, name=name)
