"""Predictor settings as pydantic-settings models: one field list gives the environment variables, the
command-line flags, the documentation table and the environment the operator writes.

The models are the contract between the operator (which configures a predictor through its pod's ``env``,
``to_env``) and the predictors (which read it): they live here, with no engine imports, so the operator
image holds them too. The engine fields are in ``asr_settings.py`` and ``tts_settings.py``;
``voicestack_predictors.*.settings`` re-export them next to what only a running predictor needs.

A field is read from ``<PREFIX>_<NAME>`` (``ASR_MODEL``) unless its ``validation_alias`` names the variable
(``TTS_VOICE_DIR``); the flag is ``--<name>``. Precedence: flag, then variable, then the field's default.
Each flag's argparse default is the value the environment gives, so ``--help`` shows what will be used.
Bad values from either source end the process with one line naming the flag and the variable.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# ``json_schema_extra`` keys a field may carry.
DEFAULT_DOC = "default_doc"  # how the docs' table states the default, when the value alone says too little
KSERVE_FLAG = (
    "kserve_flag"  # the flag belongs to KServe's own parser (``--model_name``): only its default is ours
)


class SettingsError(SystemExit):
    """A setting has a bad value; the message names the flag and its variable."""


class PredictorSettings(BaseSettings):
    """Base of every predictor settings model.

    A subclass without an ``env_prefix`` (``ServingOptions``, shared by both predictors) reads only what it
    is given; ``load(env_prefix=…)`` and ``add_arguments(parser, env_prefix)`` supply the prefix.
    """

    model_config = SettingsConfigDict(
        frozen=True, populate_by_name=True, env_ignore_empty=True, extra="ignore", case_sensitive=False
    )
    flag_group: ClassVar[str] = "engine"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env files or secrets directories: a predictor's configuration is its flags and environment.
        if getattr(env_settings, "env_prefix", ""):
            return init_settings, env_settings
        return (init_settings,)

    # --- names ------------------------------------------------------------------------------------------
    @classmethod
    def prefix(cls, env_prefix: str | None = None) -> str:
        prefix = env_prefix if env_prefix is not None else str(cls.model_config.get("env_prefix") or "")
        if prefix and not prefix.endswith("_"):
            prefix += "_"
        return prefix

    @classmethod
    def env_name(cls, name: str, env_prefix: str | None = None) -> str:
        """The environment variable that sets field ``name``."""
        alias = cls.model_fields[name].validation_alias
        if isinstance(alias, str):
            return alias
        return f"{cls.prefix(env_prefix)}{name.upper()}"

    @classmethod
    def flag(cls, name: str) -> str:
        """The flag as the docs write it: ``--vad/--no-vad`` for a boolean."""
        if _base_type(cls.model_fields[name].annotation) is bool:
            return f"--{name}/--no-{name}"
        return f"--{name}"

    # --- loading ------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, env_prefix: str | None = None, **values: Any) -> Self:
        """The settings from ``values`` over the environment; ``SettingsError`` on a bad value."""
        prefix = cls.prefix(env_prefix)
        try:
            return cls(_env_prefix=prefix, **values) if prefix else cls(**values)
        except ValidationError as exc:
            raise SettingsError(cls._explain(exc, env_prefix)) from None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, env_prefix: str | None = None) -> None:
        """Add a flag per field, its default the environment's value (the parser is the only CLI source)."""
        current = cls.load(env_prefix)
        group = parser.add_argument_group(cls.flag_group)
        for name, info in cls.model_fields.items():
            env = cls.env_name(name, env_prefix)
            default = _flag_value(getattr(current, name))
            if _extra(info).get(KSERVE_FLAG):
                parser.set_defaults(**{name: default})
                continue
            options: dict[str, Any] = {"default": default, "help": f"{info.description} [{env}]."}
            base = _base_type(info.annotation)
            if base is bool:
                options["action"] = argparse.BooleanOptionalAction
            elif typing.get_origin(base) is Literal:
                options["choices"] = typing.get_args(base)
            elif base in (int, float):
                options["type"] = base
            group.add_argument(f"--{name}", **options)

    @classmethod
    def from_args(cls, args: argparse.Namespace, env_prefix: str | None = None) -> Self:
        """The settings a parsed command line (built by ``add_arguments``) describes."""
        values = {name: getattr(args, name) for name in cls.model_fields if hasattr(args, name)}
        return cls.load(env_prefix, **values)

    @classmethod
    def _explain(cls, exc: ValidationError, env_prefix: str | None) -> str:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            if name not in cls.model_fields:  # the alias was reported
                name = next((n for n in cls.model_fields if cls.env_name(n, env_prefix) == name), name)
            message = str(error["msg"]).removeprefix("Value error, ")
            if name in cls.model_fields:
                where = f"--{name} / {cls.env_name(name, env_prefix)}"
                lines.append(f"{where}: {message} (got {error.get('input')!r})")
            else:  # a check across fields
                lines.append(message)
        return "; ".join(lines)

    # --- writing ------------------------------------------------------------------------------------------
    @classmethod
    def of(cls, **values: Any) -> Self:
        """Settings from ``values`` alone (validated; the process environment is not read): what the
        operator builds a pod's ``env`` from with :meth:`to_env`."""
        return cls.model_validate(values)

    def to_env(self, env_prefix: str | None = None, *, all_fields: bool = False) -> dict[str, str]:
        """The environment that reproduces these settings: the fields set explicitly (``all_fields``: every
        field that has a value). For the operator, which configures predictors through ``env``."""
        names = type(self).model_fields if all_fields else self.model_fields_set
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in names and value is not None:
                env[self.env_name(name, env_prefix)] = _env_text(value)
        return env

    @classmethod
    def doc_rows(cls, env_prefix: str | None = None) -> list[str]:
        """The markdown rows of the docs' "| flag | env | default | meaning |" table."""
        rows = []
        for name, info in cls.model_fields.items():
            default = _extra(info).get(DEFAULT_DOC) or _doc_default(
                info.get_default(call_default_factory=True)
            )
            env = cls.env_name(name, env_prefix)
            rows.append(f"| `{cls.flag(name)}` | `{env}` | {default} | {info.description} |")
        return rows


class ServingOptions(PredictorSettings):
    """How a predictor manages its model and its work queue (``ASR_*`` or ``TTS_*``)."""

    flag_group: ClassVar[str] = "serving"

    http_host: str = Field(
        "0.0.0.0",
        validation_alias="PREDICTOR_HTTP_HOST",
        description="Address the HTTP server binds; 127.0.0.1 keeps it off the network",
    )
    load_at_start: bool = Field(True, description="Load the model before serving (else on the first request)")
    idle_unload_seconds: float = Field(
        0.0,
        ge=0,
        description="Free the model (and GPU memory) after this many idle seconds; 0 keeps it loaded",
        json_schema_extra={DEFAULT_DOC: "0 (never)"},
    )
    max_concurrency: int = Field(1, ge=1, description="Inferences run at once; the rest wait in the queue")
    max_queue: int = Field(
        64, ge=0, description="Requests allowed to wait; beyond that the answer is 503 busy"
    )


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _base_type(annotation: Any) -> Any:
    """``int | None`` → ``int``; ``Annotated[dict, NoDecode]`` → ``dict``."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _base_type(args[0])
    return annotation


def _flag_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return value


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _doc_default(value: Any) -> str:
    if value is None or value == {}:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`" if isinstance(value, str) else str(value)


__all__ = ["DEFAULT_DOC", "KSERVE_FLAG", "PredictorSettings", "ServingOptions", "SettingsError"]
