"""The one canonical label order of meld-tf.

Every dataset, model head, metric and report reads its class names from here.
The order is MELD's own (alphabetical), so class index ``i`` means the same thing
in the TFDS builder, the model outputs and the confusion matrices.
"""

EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
SENTIMENTS = ("negative", "neutral", "positive")

# The model's two heads, each with its classes (their number is the head's size).
HEADS = {"emotion": EMOTIONS, "sentiment": SENTIMENTS}

# The splits of every MELD dataset, in TFDS's names (MELD's "dev" is "validation").
SPLITS = ("train", "validation", "test")

# Which sentiment each emotion carries in MELD. Surprise is split between
# negative and positive in the annotations, so it has no single sentiment.
EMOTION_SENTIMENT = {
    "anger": "negative",
    "disgust": "negative",
    "fear": "negative",
    "joy": "positive",
    "neutral": "neutral",
    "sadness": "negative",
    "surprise": None,
}

MODALITIES = ("text", "audio", "video")
