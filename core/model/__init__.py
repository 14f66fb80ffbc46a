"""The network (a MONAI 3D ResNet with the Hugging Face Hub mixin), its validated config, and where it comes from."""

from core.errors import ModelUnavailable
from core.model.config import PREPROCESSING_VERSION, ModelConfig, Preprocessing
from core.model.hub import BUNDLED, ModelSource, load_model, resolve
from core.model.network import MGMTNet

__all__ = ["BUNDLED", "PREPROCESSING_VERSION", "MGMTNet", "ModelConfig", "ModelSource", "ModelUnavailable",
           "Preprocessing", "load_model", "resolve"]
