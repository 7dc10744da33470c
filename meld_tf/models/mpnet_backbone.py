"""MPNet (Song et al., 2020) as a KerasHub backbone; KerasHub has none. Loads the Hugging
Face weights of all-mpnet-base-v2 with the ``safetensors`` package (numpy, no torch)."""

import json
import os

import keras
import keras_hub
import numpy as np
from safetensors import safe_open

from meld_tf.models.mpnet_encoder_layer import MPNetEncoderLayer
from meld_tf.models.mpnet_position_embedding import MPNetPositionEmbedding
from meld_tf.models.relative_position_bias import RelativePositionBias

PADDING_INDEX = 1  # MPNet's <pad> token, and the position of padding.


def mpnet_kernel_initializer(stddev=0.02):
    return keras.initializers.TruncatedNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="meld_tf")
class MPNetBackbone(keras_hub.models.Backbone):
    """MPNet's encoder: BERT's layers, RoBERTa's positions and T5's relative attention bias.

    Token embeddings plus absolute position embeddings (counted over the tokens of the
    padding mask from 2 on, as RoBERTa's: `MPNetPositionEmbedding`), normalized, then
    ``num_layers`` post-norm transformer layers (`MPNetEncoderLayer`) that all add the
    same relative position bias (`RelativePositionBias`, computed once) to their
    attention scores. There are no segment embeddings. Outputs as KerasHub's
    ``BertBackbone``: the sequence, and a pooled output (a tanh dense layer on the first
    token, ``<s>``). ``from_hf_folder`` loads a Hugging Face MPNet folder.

    Args:
        vocabulary_size: word pieces (30,527 for all-mpnet-base-v2).
        num_layers: transformer layers.
        num_heads: attention heads per layer.
        hidden_dim: size of the token vectors.
        intermediate_dim: units of each layer's feed-forward block.
        dropout: dropout rate (embeddings, attention probabilities, residual branches).
        max_sequence_length: tokens per sequence at most (the position table holds two
            rows more: positions start at 2).
        num_buckets, max_distance: of the relative position bias.
        layer_norm_epsilon: epsilon of every LayerNormalization.
        frozen_layers: 0, or the number of lower transformer layers that, with the
            embeddings and the relative position bias, are not trained (their weights are
            not trainable, whatever ``trainable`` the backbone is given later, and no
            gradient is computed through them): the cost of fine-tuning falls with it.
        dtype: dtype policy of the layers.
        **kwargs: ``keras_hub.models.Backbone`` arguments (``name``, ``trainable``).

    Call arguments (a dict):
        token_ids: ``(batch, length)`` int.
        padding_mask: ``(batch, length)``, 1 (or true) for tokens, 0 for padding.

    Returns:
        ``{"sequence_output": (batch, length, hidden_dim),
        "pooled_output": (batch, hidden_dim)}``.

    Example:
    >>> backbone = MPNetBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
    ...                          hidden_dim=4, intermediate_dim=8, max_sequence_length=6)
    >>> out = backbone({"token_ids": np.array([[0, 5, 2, 1]]),
    ...                 "padding_mask": np.array([[1, 1, 1, 0]])})
    >>> out["sequence_output"].shape, out["pooled_output"].shape
    (TensorShape([1, 4, 4]), TensorShape([1, 4]))
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        max_sequence_length=512,
        num_buckets=32,
        max_distance=128,
        layer_norm_epsilon=1e-5,
        frozen_layers=0,
        dtype=None,
        **kwargs,
    ):
        if not 0 <= frozen_layers <= num_layers:
            raise ValueError(
                f"frozen_layers {frozen_layers} must be between 0 and num_layers {num_layers}."
            )
        # === Layers ===
        self.token_embedding = keras_hub.layers.ReversibleEmbedding(
            input_dim=vocabulary_size,
            output_dim=hidden_dim,
            embeddings_initializer=mpnet_kernel_initializer(),
            dtype=dtype,
            name="token_embedding",
        )
        self.position_embedding = MPNetPositionEmbedding(
            num_positions=max_sequence_length + PADDING_INDEX + 1,
            hidden_dim=hidden_dim,
            padding_index=PADDING_INDEX,
            embeddings_initializer=mpnet_kernel_initializer(),
            dtype=dtype,
            name="position_embedding",
        )
        self.embeddings_add = keras.layers.Add(dtype=dtype, name="embeddings_add")
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm"
        )
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embeddings_dropout"
        )
        self.relative_position_bias = RelativePositionBias(
            num_heads=num_heads,
            num_buckets=num_buckets,
            max_distance=max_distance,
            embeddings_initializer=mpnet_kernel_initializer(),
            dtype=dtype,
            name="relative_position_bias",
        )
        self.transformer_layers = [
            MPNetEncoderLayer(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                activation="gelu",
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=mpnet_kernel_initializer(),
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        self.pooled_dense = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=mpnet_kernel_initializer(),
            dtype=dtype,
            name="pooled_dense",
        )

        # === Functional model ===
        token_id_input = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask_input = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        tokens = self.token_embedding(token_id_input)
        positions = self.position_embedding(padding_mask_input)
        x = self.embeddings_add((tokens, positions))
        x = self.embeddings_layer_norm(x)
        x = self.embeddings_dropout(x)
        position_bias = self.relative_position_bias(x)
        for layer in self.transformer_layers:
            x = layer(x, position_bias=position_bias, padding_mask=padding_mask_input)
        pooled_output = self.pooled_dense(x[:, 0, :])
        super().__init__(
            inputs={"token_ids": token_id_input, "padding_mask": padding_mask_input},
            outputs={"sequence_output": x, "pooled_output": pooled_output},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.layer_norm_epsilon = layer_norm_epsilon
        self.frozen_layers = frozen_layers
        self._freeze_lower_stack()

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        keras.layers.Layer.trainable.fset(self, value)  # The layer and its sublayers.
        self._freeze_lower_stack()  # ``frozen_layers`` hold as long as the backbone does.

    def _freeze_lower_stack(self):
        if not self.__dict__.get("frozen_layers"):  # Not set yet, or nothing to freeze.
            return
        lower = [self.token_embedding, self.position_embedding, self.embeddings_layer_norm,
                 self.relative_position_bias, *self.transformer_layers[: self.frozen_layers]]
        for layer in lower:
            layer.trainable = False

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "max_sequence_length": self.max_sequence_length,
            "num_buckets": self.num_buckets,
            "max_distance": self.max_distance,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "frozen_layers": self.frozen_layers,
        })  # fmt: skip
        return config

    @classmethod
    def from_hf_folder(cls, path, **kwargs):
        """The backbone of a Hugging Face MPNet folder (``config.json``,
        ``model.safetensors``), with its weights; ``kwargs`` go to the constructor."""
        config = hf_config(path)
        backbone = cls(**{**config, **kwargs})
        backbone.load_hf_weights(os.path.join(path, "model.safetensors"))
        return backbone

    def load_hf_weights(self, filename):
        """Sets every weight from a Hugging Face ``MPNetModel`` safetensors file (read as
        numpy); fails on a missing, unused or misshapen tensor."""
        with safe_open(filename, framework="numpy") as f:
            tensors = {name: f.get_tensor(name) for name in f.keys()}
        tensors.pop("embeddings.position_ids", None)  # A buffer, not a weight.
        # Checkpoints of MPNetForMaskedLM and the like name the encoder "mpnet.".
        tensors = {name.removeprefix("mpnet."): value for name, value in tensors.items()}
        targets = hf_weight_map(self)
        missing = sorted(set(targets) - set(tensors))
        if missing:
            raise ValueError(f"{filename} lacks the MPNet weights {missing[:5]}...")
        unused = sorted(name for name in set(tensors) - set(targets) if not name.startswith("lm_"))
        if unused:
            raise ValueError(f"{filename} holds weights that MPNetBackbone lacks: {unused[:5]}")
        for name, (variable, transpose) in targets.items():
            value = tensors[name].T if transpose else tensors[name]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"{name}: shape {value.shape} in {filename}, {variable.shape} in the model."
                )
            variable.assign(np.asarray(value, dtype=variable.dtype))


def hf_config(path):
    """``MPNetBackbone`` arguments from a Hugging Face MPNet ``config.json``."""
    with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("model_type") != "mpnet":
        raise ValueError(f"{path}: config.json is not an MPNet's (model_type "
                         f"{config.get('model_type')!r}).")  # fmt: skip
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"{path}: hidden_act {config['hidden_act']!r}; only 'gelu' is ported.")
    if config.get("relative_attention_num_buckets", 32) != 32:
        # transformers buckets distances with its default of 32 whatever the config says.
        raise ValueError(f"{path}: relative_attention_num_buckets must be 32.")
    return {
        "vocabulary_size": config["vocab_size"],
        "num_layers": config["num_hidden_layers"],
        "num_heads": config["num_attention_heads"],
        "hidden_dim": config["hidden_size"],
        "intermediate_dim": config["intermediate_size"],
        "dropout": config.get("hidden_dropout_prob", 0.1),
        "max_sequence_length": config["max_position_embeddings"] - PADDING_INDEX - 1,
        "num_buckets": 32,
        "layer_norm_epsilon": config.get("layer_norm_eps", 1e-5),
    }


def hf_weight_map(backbone):
    """``{Hugging Face tensor name: (Keras variable, transposed?)}`` of ``backbone``; a
    torch ``Linear`` weight is ``(out, in)``, a Keras ``Dense`` kernel ``(in, out)``."""
    targets = {
        "embeddings.word_embeddings.weight": (backbone.token_embedding.embeddings, False),
        "embeddings.position_embeddings.weight": (backbone.position_embedding.embeddings, False),
        "embeddings.LayerNorm.weight": (backbone.embeddings_layer_norm.gamma, False),
        "embeddings.LayerNorm.bias": (backbone.embeddings_layer_norm.beta, False),
        "encoder.relative_attention_bias.weight": (
            backbone.relative_position_bias.embeddings,
            False,
        ),
        "pooler.dense.weight": (backbone.pooled_dense.kernel, True),
        "pooler.dense.bias": (backbone.pooled_dense.bias, False),
    }
    for i, layer in enumerate(backbone.transformer_layers):
        prefix = f"encoder.layer.{i}."
        for hf_name, dense in (
            ("attention.attn.q", layer.query_dense),
            ("attention.attn.k", layer.key_dense),
            ("attention.attn.v", layer.value_dense),
            ("attention.attn.o", layer.attention_output_dense),
            ("intermediate.dense", layer.intermediate_dense),
            ("output.dense", layer.output_dense),
        ):
            targets[f"{prefix}{hf_name}.weight"] = (dense.kernel, True)
            targets[f"{prefix}{hf_name}.bias"] = (dense.bias, False)
        for hf_name, norm in (
            ("attention.LayerNorm", layer.attention_layer_norm),
            ("output.LayerNorm", layer.output_layer_norm),
        ):
            targets[f"{prefix}{hf_name}.weight"] = (norm.gamma, False)
            targets[f"{prefix}{hf_name}.bias"] = (norm.beta, False)
    return targets
