"""Inference on any audio: tag files and folders, taggrams, embeddings from named layers, with a model trained by
mirjax (its workdir alone) or a registered pretrained one."""

from mirjax.inference import pretrained  # noqa: E402,F401  (registers the pretrained networks)
from mirjax.inference.model import LoadedModel, from_pretrained, from_workdir, register_pretrained
from mirjax.inference.tagger import FileResult, Result, Tagger, file_embeddings

__all__ = ["FileResult", "LoadedModel", "Result", "Tagger", "file_embeddings", "from_pretrained", "from_workdir",
           "register_pretrained"]
