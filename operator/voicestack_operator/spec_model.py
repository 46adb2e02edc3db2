"""The VoiceStack resource as pydantic models: the single source of its fields, types, bounds, defaults,
descriptions and CEL rules.

``crd.py`` generates the CRD's openAPIV3Schema from :class:`VoiceStack` (``model_json_schema`` made
structural); ``spec.py`` parses a stack's spec with :class:`VoiceStackSpec`, so the operator's defaults are
the ones the API server applies. Field names are the resource's own (camelCase), so a model dumps to the
spec as the API server stores it.

Conventions the CRD generator relies on (``crd.structural``):

- An optional field without a default is ``X | None = None``; the CRD leaves it out (no ``nullable``).
- An object with defaults inside has the model's own defaults as its default (``AsrSpec()``): the CRD
  spells them out, so the API server's CEL rules see them when it defaults an omitted object.
- Integers are ``int32`` unless the field says ``format: int64``.
- ``{what}`` in a description is filled per model (``AsrSpec``: "ASR"), and ``{env:<field>}`` with the
  variable the predictor's serving setting ``<field>`` is read from (``ASR_LOAD_AT_START``): names of
  variables come from the settings models in ``voicestack/contracts``, as does the env the operator writes.
- A model's ``rules`` are its ``x-kubernetes-validations``; a model's docstring (one paragraph) is its
  description where no field describes it (the root, list items).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from voicestack.contracts import asr_settings, tts_settings
from voicestack.contracts.predictor_settings import ServingOptions

QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
VOICE_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
# An inline sample is at most 1 MiB of base64 text (768 KiB of audio): it fits a ConfigMap, and a VoiceStack
# with it stays under the API server's 1.5 MiB request limit. Larger samples: configMapKeyRef.
MAX_INLINE_BASE64 = 1_048_576

DEFAULT_ASR_MODEL = "large-v3"  # filled in by the operator when spec.asr has neither model nor storageUri
DEFAULT_TTS_MODELS = {  # filled in by the operator when spec.tts.model is unset (coqui needs one)
    "xtts": tts_settings.DEFAULT_MODEL,
    "piper": "piper-en_US-joe-medium",
}

Quantity = Annotated[
    int | Annotated[str, Field(pattern=QUANTITY_PATTERN)],
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A resource quantity (``2``, ``500m``, ``8Gi``) as the API server types it: int-or-string."""

Passthrough = Annotated[
    dict[str, Any], WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
]
"""A Kubernetes structure the operator copies verbatim into the pod spec (validated by the API server)."""

INT64: dict[str, Any] = {"format": "int64"}
ASR_ENV = asr_settings.EngineSettings.env_name  # a description names the variable a field becomes
TTS_ENV = tts_settings.EngineSettings.env_name


def _list_map(*keys: str) -> dict[str, Any]:
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


def _kubernetes_extra(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """Fill a model's description templates and attach its CEL rules (see the module docstring)."""
    what, prefix = getattr(cls, "what", ""), getattr(cls, "prefix", "")

    def variable(match: re.Match[str]) -> str:
        return ServingOptions.env_name(match[1], prefix)

    if "description" in schema:  # a docstring: one paragraph
        schema["description"] = " ".join(schema["description"].split())
    for node in schema.get("properties", {}).values():
        if "description" in node:
            node["description"] = re.sub(
                r"\{env:(\w+)\}", variable, node["description"].replace("{what}", what)
            )
    rules = getattr(cls, "rules", [])
    if rules:
        schema["x-kubernetes-validations"] = [dict(rule) for rule in rules]


class Model(BaseModel):
    """Base of every model of the resource."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_kubernetes_extra)
    what: ClassVar[str] = ""
    prefix: ClassVar[str] = ""
    rules: ClassVar[list[dict[str, str]]] = []


def rule(expression: str, message: str) -> dict[str, str]:
    """A CEL ``x-kubernetes-validations`` entry."""
    return {"rule": expression, "message": message}


# --- shared pieces ---------------------------------------------------------------------------------------
class Toleration(Model):
    """A toleration (core/v1 Toleration)."""

    key: str | None = Field(None, description="Taint key the toleration applies to; empty matches all keys.")
    operator: Literal["Exists", "Equal"] | None = Field(None, description="Exists or Equal (default Equal).")
    value: str | None = Field(None, description="Taint value the toleration matches (operator Equal).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect to match; empty matches all effects."
    )
    tolerationSeconds: int | None = Field(
        None, description="How long a NoExecute taint is tolerated; unset: forever.", json_schema_extra=INT64
    )


class EnvVar(Model):
    """An environment variable (core/v1 EnvVar)."""

    name: str = Field(description="Variable name.", pattern=ENV_NAME_PATTERN)
    value: str | None = Field(None, description="Literal value.")
    valueFrom: Passthrough | None = Field(
        None, description="Source of the value (core/v1 EnvVarSource: secretKeyRef, …)."
    )


ENV_DESCRIPTION = "Extra environment variables for the container; they override the generated ones."


class Scheduling(Model):
    """Where the pods run and the container's extra environment (predictors and router)."""

    nodeSelector: dict[str, str] | None = Field(
        None, description="Node labels the {what} pods must run on (e.g. a GPU node pool)."
    )
    tolerations: list[Toleration] | None = Field(
        None, description="Tolerations of the pods, e.g. for tainted GPU node pools."
    )
    affinity: Passthrough | None = Field(
        None, description="Affinity of the {what} pods (core/v1 Affinity), copied verbatim."
    )
    env: list[EnvVar] | None = Field(None, description=ENV_DESCRIPTION, json_schema_extra=_list_map("name"))


class PredictorResources(Model):
    gpu: int = Field(
        0,
        ge=0,
        le=16,
        description="NVIDIA GPUs per pod (resource nvidia.com/gpu, requested and limited). 0 runs on CPU.",
    )
    cpu: Quantity | None = Field(None, description="CPU request, e.g. 2 or 500m.")
    memory: Quantity | None = Field(
        None, description="Memory request, e.g. 8Gi; also the memory limit unless memoryLimit is set."
    )
    cpuLimit: Quantity | None = Field(
        None, description="CPU limit; unset leaves CPU unlimited (no throttling of inference)."
    )
    memoryLimit: Quantity | None = Field(None, description="Memory limit; defaults to the memory request.")


MIN_MAX_REPLICAS = rule("self.minReplicas <= self.maxReplicas", "minReplicas must not exceed maxReplicas")


class PredictorSpec(Scheduling):
    """What both predictors share; ``prefix`` is their settings' (``ASR``, ``TTS``)."""

    enabled: bool = Field(True, description="Run the {what} InferenceService.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Device the engine runs on: auto picks cuda when a GPU is visible."
    )
    loadAtStart: bool = Field(
        True,
        description="Load the model when the pod starts ({env:load_at_start}); false loads on the first "
        "request.",
    )
    idleUnloadSeconds: int = Field(
        0,
        ge=0,
        description="Free the model after this many idle seconds ({env:idle_unload_seconds}); 0 never.",
    )
    maxConcurrency: int = Field(
        1, ge=1, le=64, description="Requests run at once per pod ({env:max_concurrency})."
    )
    maxQueue: int = Field(
        64, ge=0, le=4096, description="Requests waiting per pod before 503 busy ({env:max_queue})."
    )
    resources: PredictorResources = Field(
        PredictorResources(), description="Compute resources of each {what} pod."
    )
    minReplicas: int = Field(
        1,
        ge=0,
        le=100,
        description="Fewest predictor pods; 0 scales to zero when idle (deploymentMode Knative only).",
    )
    maxReplicas: int = Field(1, ge=1, le=100, description="Most predictor pods the autoscaler may run.")
    scaleMetric: Literal["concurrency", "rps", "cpu", "memory"] | None = Field(
        None,
        description="Autoscaling metric (KServe scaleMetric): concurrency and rps need Knative; cpu/memory "
        "use an HPA.",
    )
    scaleTarget: int | None = Field(
        None,
        ge=1,
        le=10000,
        description="Autoscaling target per pod for scaleMetric (requests, or percent utilisation).",
    )
    image: str | None = Field(
        None, description="Container image override for the {what} predictor (default from the operator)."
    )


# --- ASR -------------------------------------------------------------------------------------------------
ComputeType = Literal[
    "default",
    "auto",
    "int8",
    "int8_float16",
    "int8_float32",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]


class AsrSpec(PredictorSpec):
    """The Whisper predictor."""

    what: ClassVar[str] = "ASR"
    prefix: ClassVar[str] = asr_settings.ENV_PREFIX
    rules: ClassVar[list[dict[str, str]]] = [
        MIN_MAX_REPLICAS,
        rule("!(has(self.model) && has(self.storageUri))", "set model or storageUri, not both"),
        rule(
            "self.engine != 'whisper' || self.computeType in ['default', 'float16', 'float32']",
            "engine whisper (openai-whisper) supports computeType float16 or float32 only",
        ),
    ]

    engine: Literal["faster-whisper", "whisper"] = Field(
        "faster-whisper", description="Whisper implementation."
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Model size name (tiny, base, small, medium, large-v3, turbo, …) or a Hugging Face repo "
        f"id. Mutually exclusive with storageUri; neither means {DEFAULT_ASR_MODEL}.",
    )
    storageUri: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="Model location KServe's storage initializer downloads to /mnt/models (s3://, gs://, "
        "pvc://, hf://, https://); the engine then loads /mnt/models. Mutually exclusive with model.",
    )
    computeType: ComputeType = Field(
        "default",
        description="Compute type: CTranslate2 types for faster-whisper, float16 or float32 for whisper; "
        "default lets the predictor pick by device (float16 on CUDA, int8 or float32 on CPU).",
    )
    vad: bool | None = Field(
        None,
        description=f"Skip silence with the Silero voice-activity filter ({ASR_ENV('vad')}); unset: on for "
        "audio over 30 s (the batched path), off for shorter audio, as measured on real weights.",
    )
    beamSize: int | None = Field(
        None,
        ge=1,
        le=10,
        description=f"Beam search width ({ASR_ENV('beam_size')}); unset: 5 for audio up to 30 s and for "
        "re-decoded windows, greedy for batched windows on CPU (as accurate there, and faster), 5 on CUDA.",
    )
    batchSize: int | None = Field(
        None,
        ge=1,
        le=64,
        description="faster-whisper: 30 s windows per batch for audio over 30 s "
        f"({ASR_ENV('batch_size')}); 1 decodes "
        "sequentially; unset: the predictor's default, 8 (CPU and CUDA).",
    )
    crossRequestBatching: Literal["auto", "on", "off"] = Field(
        "auto",
        description="faster-whisper: decode the 30 s windows of concurrent long requests in shared batched "
        f"passes ({ASR_ENV('cross_request_batching')}); only with maxConcurrency above 1; auto: on for "
        "CUDA, off for CPU (where it was measured to slow the total).",
    )
    crossRequestWaitMs: int | None = Field(
        None,
        ge=0,
        le=5000,
        description="With cross-request batching: how long a pass that is not full waits for another "
        f"request's windows ({ASR_ENV('cross_request_wait_ms')}); unset: the predictor's default, 20.",
    )


# --- TTS -------------------------------------------------------------------------------------------------
class ConfigMapKeyRef(Model):
    name: str = Field(description="ConfigMap name.", pattern=K8S_NAME_PATTERN, max_length=253)
    key: str = Field(
        description="Key in binaryData (or data) holding the audio file, e.g. anna.wav.",
        min_length=1,
        max_length=253,
    )


class Voice(Model):
    """A voice sample for XTTS cloning: a short clean recording of one speaker (6–30 s)."""

    rules: ClassVar[list[dict[str, str]]] = [
        rule(
            "has(self.configMapKeyRef) != has(self.data)",
            "a voice needs exactly one source: configMapKeyRef or data",
        )
    ]

    name: str = Field(
        description="Voice name, used in requests (voice=<name>) and as the file name under /voices.",
        pattern=VOICE_NAME_PATTERN,
        max_length=63,
    )
    configMapKeyRef: ConfigMapKeyRef | None = Field(
        None,
        description="An existing ConfigMap (same namespace) holding the sample; it is mounted, not copied.",
    )
    data: str | None = Field(
        None,
        max_length=MAX_INLINE_BASE64,
        description="The sample inline, base64-encoded, at most 1 MiB of base64 (768 KiB of audio; use "
        "configMapKeyRef for more). The operator stores it in a ConfigMap of its own.",
        json_schema_extra={"format": "byte"},
    )
    format: Literal["wav", "mp3", "flac", "ogg", "m4a"] = Field(
        "wav", description="Audio container of the sample, the file extension under /voices."
    )


TtsEngine = Literal["xtts", "coqui", "piper"]


class TtsSpec(PredictorSpec):
    """The TTS predictor."""

    what: ClassVar[str] = "TTS"
    prefix: ClassVar[str] = tts_settings.ENV_PREFIX
    rules: ClassVar[list[dict[str, str]]] = [
        MIN_MAX_REPLICAS,
        rule(
            "self.engine != 'coqui' || has(self.model)",
            "engine coqui needs a model (a coqui-tts model name or directory)",
        ),
        rule(
            "self.engine != 'piper' || !has(self.voices) || size(self.voices) == 0",
            "the piper engine cannot clone voices: remove tts.voices or use engine xtts",
        ),
        rule(
            "self.engine != 'piper' || (self.resources.gpu == 0 && self.device != 'cuda')",
            "the piper engine runs on CPU: set tts.resources.gpu to 0 and tts.device to auto or cpu",
        ),
    ]

    engine: TtsEngine = Field(
        "xtts",
        description="xtts: Coqui XTTS-v2 (voice cloning, multilingual, streaming; a GPU is advised); coqui: "
        "another coqui-tts model (VITS, …; needs model); piper: a Piper voice through ONNX Runtime "
        f"(fast on CPU, no GPU, no cloning, no licence to accept) ({TTS_ENV('engine')}).",
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="The model: a coqui-tts model name or directory (engines xtts, coqui), or a Piper voice "
        "(a .onnx path, or a model catalogue name); unset: "
        + ", ".join(f"{model} ({engine})" for engine, model in DEFAULT_TTS_MODELS.items())
        + ".",
    )
    acceptModelLicense: bool = Field(
        False,
        description="You accept the TTS model's licence. Coqui XTTS-v2 (the default model) is under the "
        "Coqui Public Model License (CPML, https://coqui.ai/cpml): NON-COMMERCIAL use only unless "
        "you hold a commercial licence from Coqui. true sets COQUI_TOS_AGREED=1 on the predictor so "
        "it may download XTTS-v2; false (the default) leaves it unset and the predictor refuses the "
        "download (it never accepts the licence itself). Set it only if you have read and agree to "
        "the licence. Not needed (and ignored) for engine piper.",
    )
    autoLang: bool = Field(True, description="Detect the language of the text when the request says auto.")
    voices: list[Voice] | None = Field(
        None,
        max_length=64,
        description="Voice samples for cloning (engine xtts), mounted into the predictor at /voices. Voices "
        "uploaded through the router's voices API are added too.",
        json_schema_extra=_list_map("name"),
    )
    voiceAliases: dict[str, Annotated[str, Field(min_length=1)]] | None = Field(  # "" refused as well
        None,
        max_length=32,
        description="OpenAI voice names (alloy, echo, fable, onyx, nova, shimmer, …) mapped to voice names "
        "(cloned voices, or the model's speakers).",
    )


# --- router ----------------------------------------------------------------------------------------------
class IngressTls(Model):
    enabled: bool = Field(False, description="Serve HTTPS for the host.")
    secretName: str | None = Field(
        None, description="Secret with the certificate (type kubernetes.io/tls); default <stack>-router-tls."
    )


class Ingress(Model):
    rules: ClassVar[list[dict[str, str]]] = [
        rule("!self.enabled || has(self.host)", "ingress.host is required when the ingress is enabled")
    ]

    enabled: bool = Field(False, description="Create the Ingress.")
    host: str | None = Field(
        None, max_length=253, description="Host name the Ingress answers (required when enabled)."
    )
    className: str | None = Field(
        None, description="IngressClass name, e.g. nginx; unset: the cluster default."
    )
    path: str = Field("/", pattern="^/.*", description="URL path prefix routed to the router.")
    tls: IngressTls = Field(IngressTls(), description="TLS for the host.")
    annotations: dict[str, str] | None = Field(
        None,
        description="Ingress annotations, merged over the defaults (ingress-nginx proxy-body-size from "
        "limits.maxBazarrUploadMb, read/send timeouts from limits.requestTimeoutSeconds, no request "
        "buffering) so Bazarr's large uploads pass.",
    )


class SecretKeyRef(Model):
    name: str = Field(description="Secret name (same namespace).", pattern=K8S_NAME_PATTERN, max_length=253)
    key: str = Field("api-keys", description="Key in the Secret.")


class RouterLimits(Model):
    maxUploadMb: int = Field(25, ge=1, description="OpenAI transcription upload limit in MB.")
    maxBazarrUploadMb: int = Field(2048, ge=1, description="Bazarr /asr upload limit in MB.")
    maxInputChars: int = Field(4096, ge=1, description="Speech input text limit in characters.")
    requestTimeoutSeconds: int = Field(600, ge=1, description="Backend read timeout in seconds.")


class RouterResources(Model):
    cpu: Quantity | None = Field(None, description="CPU request.")
    memory: Quantity | None = Field(
        None, description="Memory request; also the memory limit unless memoryLimit is set."
    )
    cpuLimit: Quantity | None = Field(None, description="CPU limit.")
    memoryLimit: Quantity | None = Field(None, description="Memory limit.")


Origin = Annotated[str, Field(description="An origin, e.g. https://app.example.com.")]


class RouterSpec(Scheduling):
    what: ClassVar[str] = "router"

    replicas: int = Field(1, ge=0, le=50, description="Router pods.")
    image: str | None = Field(
        None, description="Container image override for the router (default from the operator)."
    )
    serviceType: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        "ClusterIP", description="Type of the router's Service."
    )
    ingress: Ingress = Field(
        Ingress(), description="Expose the router outside the cluster through an Ingress."
    )
    apiKeySecretRef: SecretKeyRef | None = Field(
        None,
        description="Secret holding the accepted API keys (ROUTER_API_KEYS): one key, or several separated "
        "by commas on one line (a trailing newline is ignored; keys on separate lines are NOT split); "
        "unset: no authentication.",
    )
    corsOrigins: list[Origin] | None = Field(
        None, description="Browser origins allowed by CORS; empty: no CORS."
    )
    limits: RouterLimits = Field(RouterLimits(), description="Request limits of the router.")
    resources: RouterResources = Field(RouterResources(), description="Compute resources of each router pod.")


# --- the spec --------------------------------------------------------------------------------------------
Engine = Literal["asr", "tts"]
ENGINES: tuple[Engine, ...] = ("asr", "tts")


class VoiceStackSpec(Model):
    """Desired state of the speech stack."""

    rules: ClassVar[list[dict[str, str]]] = [
        rule("self.asr.enabled || self.tts.enabled", "enable at least one of asr and tts"),
        rule(
            "self.deploymentMode == 'Knative' || "
            "((!self.asr.enabled || self.asr.minReplicas >= 1) && "
            "(!self.tts.enabled || self.tts.minReplicas >= 1))",
            "minReplicas 0 (scale to zero) needs deploymentMode Knative",
        ),
    ]

    deploymentMode: Literal["Standard", "Knative"] = Field(
        "Standard",
        description="KServe deployment mode of the predictors: Standard (Deployments, no request timeouts) "
        "or Knative (serverless, scale to zero).",
    )
    asr: AsrSpec = Field(
        AsrSpec(), description="Speech-to-text: a Whisper InferenceService (KServe model name whisper)."
    )
    tts: TtsSpec = Field(
        TtsSpec(),
        description="Text-to-speech: an InferenceService (KServe model name xtts, or piper for the piper "
        "engine) running Coqui XTTS-v2 with cloned voices, another coqui-tts model, or a Piper voice on CPU.",
    )
    router: RouterSpec = Field(
        RouterSpec(), description="The OpenAI- and Bazarr-compatible router in front of the predictors."
    )

    def predictor(self, engine: Engine) -> AsrSpec | TtsSpec:
        """The section of one predictor, ``asr`` or ``tts``."""
        return self.asr if engine == "asr" else self.tts


# --- the status (written by the operator; modelled for the CRD) ------------------------------------------
class Condition(Model):
    """A condition of the stack."""

    type: str = Field(description="Ready, AsrReady, TtsReady or RouterReady.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str | None = Field(None, description="One-word CamelCase reason.")
    message: str | None = Field(None, description="Human-readable details.")
    lastTransitionTime: str | None = Field(
        None, description="When status last changed.", json_schema_extra={"format": "date-time"}
    )
    observedGeneration: int | None = Field(
        None, description="metadata.generation the condition was computed for.", json_schema_extra=INT64
    )


class ComponentStatus(Model):
    name: str | None = Field(None, description="Name of the child object.")
    url: str | None = Field(None, description="URL the router uses to reach it.")
    model: str | None = Field(
        None, description="Model it serves: the spec's model name or repo id, or its storageUri."
    )
    ready: bool | None = Field(None, description="Whether it reports ready.")


class VoiceStackStatus(Model):
    observedGeneration: int | None = Field(
        None, description="metadata.generation last reconciled.", json_schema_extra=INT64
    )
    conditions: list[Condition] | None = Field(
        None, description="Ready, AsrReady, TtsReady, RouterReady.", json_schema_extra=_list_map("type")
    )
    routerUrl: str | None = Field(
        None, description="In-cluster URL of the router: the address to give Bazarr and OpenAI clients."
    )
    externalUrl: str | None = Field(None, description="URL through the Ingress, when enabled.")
    asr: ComponentStatus | None = Field(None, description="Observed state of the ASR InferenceService.")
    tts: ComponentStatus | None = Field(None, description="Observed state of the TTS InferenceService.")
    voices: list[Annotated[str, Field(description="A ConfigMap name.")]] | None = Field(
        None, description="Voice ConfigMaps mounted into the TTS predictor."
    )
    kopf: Passthrough | None = Field(None, description="Kopf's own bookkeeping (handler progress).")


class VoiceStack(Model):
    """VoiceStack runs Whisper speech-to-text and XTTS-v2 or Piper text-to-speech as KServe
    InferenceServices behind an OpenAI- and Bazarr-compatible router."""

    apiVersion: str | None = Field(None, description="Versioned schema of this representation of an object.")
    kind: str | None = Field(None, description="REST resource this object represents.")
    # The API server allows nothing but the type here (not even a description): metadata is implicit.
    metadata: Annotated[dict[str, Any], WithJsonSchema({"type": "object"})] | None = None
    spec: VoiceStackSpec = Field(VoiceStackSpec(), description="Desired state of the speech stack.")
    status: VoiceStackStatus | None = Field(None, description="Observed state, written by the operator.")
