"""The preprocessing chain's settings (``Preprocessing``): the grid, sequence order, normalisation and skull
stripping a model was trained with, as its config.json records them under ``preprocessing``.

``core.model.config.ModelConfig`` composes this record; the chain, training and the predictor read it typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from core import SEQUENCES
from core.config import SKULL_STRIP_MODES

PREPROCESSING_VERSION = "2"
"""Bumped whenever the chain changes what the network sees; logged with every prediction."""


class ConfigFieldError(ValueError):
    """One field of a model's config.json is missing or wrong (``field_name`` names it, dotted)."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"field '{field_name}' {problem}")
        self.field_name = field_name


def _number_list(data: Mapping[str, Any], key: str, kind: type, where: str) -> tuple:
    value = data.get(key)
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise ConfigFieldError(f"{where}.{key}", f"is {value!r}; expected three numbers")
    try:
        numbers = tuple(kind(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ConfigFieldError(f"{where}.{key}", f"is {value!r}; expected three numbers") from err
    if not all(n > 0 for n in numbers):
        raise ConfigFieldError(f"{where}.{key}", f"is {value!r}; expected positive numbers")
    return numbers


@dataclass(frozen=True)
class Preprocessing:
    """How a Study becomes the network's input: a RAS grid of ``input_shape`` voxels of ``spacing_mm`` centred on
    the head, the brain found as ``skull_strip`` says, each sequence z-scored over the brain."""

    version: str = PREPROCESSING_VERSION
    sequences: tuple[str, ...] = SEQUENCES
    spacing_mm: tuple[float, float, float] = (2.0, 2.0, 2.0)
    input_shape: tuple[int, int, int] = (96, 96, 96)
    orientation: str = "RAS"
    normalisation: str = "zscore-brain"
    skull_strip: str = "auto"

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "preprocessing") -> Preprocessing:
        if not isinstance(data, Mapping):
            raise ConfigFieldError(where, f"is {type(data).__name__}; expected an object")
        data = {**cls().to_json(), **{key: value for key, value in data.items() if value is not None}}  # defaults
        sequences = data["sequences"]
        if not isinstance(sequences, list | tuple) or not sequences or not set(sequences) <= set(SEQUENCES):
            raise ConfigFieldError(f"{where}.sequences", f"is {sequences!r}; expected names from {list(SEQUENCES)}")
        skull = data.get("skull_strip", "auto")
        if skull not in SKULL_STRIP_MODES:
            raise ConfigFieldError(f"{where}.skull_strip", f"is {skull!r}; expected one of {list(SKULL_STRIP_MODES)}")
        orientation = data.get("orientation", "RAS")
        if orientation != "RAS":
            raise ConfigFieldError(f"{where}.orientation", f"is {orientation!r}; expected 'RAS'")
        normalisation = data.get("normalisation", "zscore-brain")
        if normalisation != "zscore-brain":
            raise ConfigFieldError(f"{where}.normalisation", f"is {normalisation!r}; expected 'zscore-brain'")
        return cls(version=str(data.get("version", PREPROCESSING_VERSION)), sequences=tuple(sequences),
                   spacing_mm=_number_list(data, "spacing_mm", float, where),
                   input_shape=_number_list(data, "input_shape", int, where),
                   orientation=orientation, normalisation=normalisation, skull_strip=skull)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {**data, "sequences": list(self.sequences), "spacing_mm": list(self.spacing_mm),
                "input_shape": list(self.input_shape)}
