"""The network (a MONAI 3D ResNet with the Hugging Face Hub mixin) and where its weights come from."""

from core.model.hub import BUNDLED, ModelSource, ModelUnavailable, load_model, resolve
from core.model.network import PREPROCESSING_VERSION, MGMTNet

__all__ = ["BUNDLED", "PREPROCESSING_VERSION", "MGMTNet", "ModelSource", "ModelUnavailable", "load_model", "resolve"]
