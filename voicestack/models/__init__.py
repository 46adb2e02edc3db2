"""Named models with verified sources: the catalogue, the local model cache, and ``voicestack models``.

Predictors accept a catalogue name wherever they accept a model (``resolve_model``): the name is
pulled into the cache on first use and replaced by its directory.
"""

from voicestack.models.cache import ModelCache, ModelPullError, resolve_model
from voicestack.models.catalogue import CATALOGUE, LOCAL_DEFAULTS, CatalogueEntry

__all__ = ["CATALOGUE", "LOCAL_DEFAULTS", "CatalogueEntry", "ModelCache", "ModelPullError", "resolve_model"]
