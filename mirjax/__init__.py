"""mirjax: functional JAX/Flax re-implementations of deep learning systems for music information retrieval."""

__version__ = "0.1.0"
