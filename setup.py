"""meld-tf: emotion and sentiment recognition in conversation on MELD (Keras 3 / TensorFlow)."""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    # Full TensorFlow (tensorflow-text requires it; never mix with tensorflow-cpu).
    "tensorflow==2.21.*",
    "tensorflow-text==2.21.*",
    "keras==3.15.*",
    "keras-hub==0.32.*",
    "tensorflow-datasets==4.9.*",
    "apache-beam",  # the `tfds` CLI (tfds build) does not start without these
    "mlcroissant",  # in tensorflow-datasets 4.9.10, and building a dataset from a folder
    "importlib_resources",  # needs this one
    "keras-tuner==1.4.8",
    "tensorboard",  # keras-tuner imports it
    "safetensors",  # loads the Hugging Face weights of the pretrained text encoder
    "opencv-python-headless>=4.8,<5",  # 5.0 ships no Haar cascades
    "av>=12",  # PyAV: decodes and writes mp4 (FFmpeg is inside the wheel)
    "numpy",
    "matplotlib",
    "scikit-learn",
    "pandas",  # meld_tf.inspection tables (notebooks)
    "tqdm",
]

EXTRAS_REQUIRE = {
    "test": ["pytest", "pytest-xdist", "ruff", "nbclient", "nbformat", "ipykernel",
             "dill"],  # dill: tfds.testing
    "beam": ["apache-beam"],
}

setup(
    name="meld-tf",
    version="0.1.0",
    description="Emotion and sentiment recognition in conversation on MELD with Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["meld_tf", "meld_tf.*", "tfds_meld", "tfds_meld.*"]),
    package_data={"tfds_meld.meld": ["*.tsv", "*.bib", "*.md", "dummy_data/**/*"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
