"""The network (a MONAI 3D ResNet with the Hugging Face Hub mixin), its validated config, and where it comes from."""

from core.errors import ModelUnavailable
from core.model.config import ModelConfig
from core.model.hub import BUNDLED, ModelSource, load_model, resolve
from core.model.network import MGMTNet

__all__ = ["BUNDLED", "MGMTNet", "ModelConfig", "ModelSource", "ModelUnavailable", "load_model", "resolve"]
