"""The VoiceStack CustomResourceDefinition, built in Python so every field gets a type and a description.

``python -m voicestack_operator.crd > crds/voicestack.io_voicestacks.yaml`` regenerates the shipped file; a
test checks the file is current. The same schema is the single source of the spec's defaults
(:func:`voicestack_operator.spec.apply_defaults`).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import yaml

GROUP = "voicestack.io"
VERSION = "v1alpha1"
KIND = "VoiceStack"
PLURAL = "voicestacks"
SINGULAR = "voicestack"
SHORT_NAMES = ["vs"]

Schema = dict[str, Any]

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


def string(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def integer(description: str, **extra: Any) -> Schema:
    return {"type": "integer", "format": "int32", "description": description, **extra}


def boolean(description: str, **extra: Any) -> Schema:
    return {"type": "boolean", "description": description, **extra}


def obj(description: str, properties: dict[str, Schema], **extra: Any) -> Schema:
    return {"type": "object", "description": description, "properties": properties, **extra}


def string_map(description: str, **extra: Any) -> Schema:
    return {"type": "object", "description": description, "additionalProperties": {"type": "string"}, **extra}


def string_list(description: str, item: str, **extra: Any) -> Schema:
    return {"type": "array", "description": description, "items": string(item), **extra}


def quantity(description: str) -> Schema:
    return {
        "description": description,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": True,
    }


def passthrough(description: str) -> Schema:
    """A Kubernetes structure the operator copies verbatim into the pod spec (validated by the API server)."""
    return {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}


def resources_schema(what: str, gpu_default: int) -> Schema:
    return obj(
        f"Compute resources of each {what} pod.",
        {
            "gpu": integer(
                "NVIDIA GPUs per pod (resource nvidia.com/gpu, requested and limited). 0 runs on CPU.",
                minimum=0,
                maximum=16,
                default=gpu_default,
            ),
            "cpu": quantity("CPU request, e.g. 2 or 500m."),
            "memory": quantity("Memory request, e.g. 8Gi; also the memory limit unless memoryLimit is set."),
            "cpuLimit": quantity("CPU limit; unset leaves CPU unlimited (no throttling of inference)."),
            "memoryLimit": quantity("Memory limit; defaults to the memory request."),
        },
        default={},
    )


def toleration_schema() -> Schema:
    return {
        "type": "array",
        "description": "Tolerations of the pods, e.g. for tainted GPU node pools.",
        "items": obj(
            "A toleration (core/v1 Toleration).",
            {
                "key": string("Taint key the toleration applies to; empty matches all keys."),
                "operator": string("Exists or Equal (default Equal).", enum=["Exists", "Equal"]),
                "value": string("Taint value the toleration matches (operator Equal)."),
                "effect": string(
                    "Taint effect to match; empty matches all effects.",
                    enum=["NoSchedule", "PreferNoSchedule", "NoExecute"],
                ),
                "tolerationSeconds": {
                    "type": "integer",
                    "format": "int64",
                    "description": "How long a NoExecute taint is tolerated; unset: forever.",
                },
            },
        ),
    }


def env_schema() -> Schema:
    return {
        "type": "array",
        "description": "Extra environment variables for the container; they override the generated ones.",
        "items": obj(
            "An environment variable (core/v1 EnvVar).",
            {
                "name": string("Variable name.", pattern=ENV_NAME_PATTERN),
                "value": string("Literal value."),
                "valueFrom": passthrough("Source of the value (core/v1 EnvVarSource: secretKeyRef, …)."),
            },
            required=["name"],
        ),
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    }


def scheduling_properties(what: str) -> dict[str, Schema]:
    return {
        "nodeSelector": string_map(f"Node labels the {what} pods must run on (e.g. a GPU node pool)."),
        "tolerations": toleration_schema(),
        "affinity": passthrough(f"Affinity of the {what} pods (core/v1 Affinity), copied verbatim."),
    }


def serving_properties(engine: str) -> dict[str, Schema]:
    return {
        "loadAtStart": boolean(
            f"Load the model when the pod starts ({engine}_LOAD_AT_START); false loads on the first request.",
            default=True,
        ),
        "idleUnloadSeconds": integer(
            f"Free the model after this many idle seconds ({engine}_IDLE_UNLOAD_SECONDS); 0 never.",
            minimum=0,
            default=0,
        ),
        "maxConcurrency": integer(
            f"Requests run at once per pod ({engine}_MAX_CONCURRENCY).", minimum=1, maximum=64, default=1
        ),
        "maxQueue": integer(
            f"Requests waiting per pod before 503 busy ({engine}_MAX_QUEUE).",
            minimum=0,
            maximum=4096,
            default=64,
        ),
    }


def predictor_properties(what: str, gpu_default: int, engine: str) -> dict[str, Schema]:
    return {
        "enabled": boolean(f"Run the {what} InferenceService.", default=True),
        "device": string(
            "Device the engine runs on: auto picks cuda when a GPU is visible.",
            enum=["auto", "cpu", "cuda"],
            default="auto",
        ),
        **serving_properties(engine),
        "resources": resources_schema(what, gpu_default),
        "minReplicas": integer(
            "Fewest predictor pods; 0 scales to zero when idle (deploymentMode Knative only).",
            minimum=0,
            maximum=100,
            default=1,
        ),
        "maxReplicas": integer(
            "Most predictor pods the autoscaler may run.", minimum=1, maximum=100, default=1
        ),
        "scaleMetric": string(
            "Autoscaling metric (KServe scaleMetric): concurrency and rps need Knative; cpu/memory use "
            "an HPA.",
            enum=["concurrency", "rps", "cpu", "memory"],
        ),
        "scaleTarget": integer(
            "Autoscaling target per pod for scaleMetric (requests, or percent utilisation).",
            minimum=1,
            maximum=10000,
        ),
        **scheduling_properties(what),
        "image": string(f"Container image override for the {what} predictor (default from the operator)."),
        "env": env_schema(),
    }


def min_max_rule() -> dict[str, str]:
    return {
        "rule": "self.minReplicas <= self.maxReplicas",
        "message": "minReplicas must not exceed maxReplicas",
    }


def asr_schema() -> Schema:
    return obj(
        "Speech-to-text: a Whisper InferenceService (KServe model name whisper).",
        {
            **predictor_properties("ASR", 0, "ASR"),
            "engine": string(
                "Whisper implementation.", enum=["faster-whisper", "whisper"], default="faster-whisper"
            ),
            "model": string(
                "Model size name (tiny, base, small, medium, large-v3, turbo, …) or a Hugging Face repo id. "
                "Mutually exclusive with storageUri; neither means large-v3.",
                minLength=1,
                maxLength=256,
            ),
            "storageUri": string(
                "Model location KServe's storage initializer downloads to /mnt/models (s3://, gs://, pvc://, "
                "hf://, https://); the engine then loads /mnt/models. Mutually exclusive with model.",
                minLength=1,
                maxLength=1024,
            ),
            "computeType": string(
                "Compute type: CTranslate2 types for faster-whisper, float16 or float32 for whisper; "
                "default lets the predictor pick by device (float16 on CUDA, int8 or float32 on CPU).",
                enum=[
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
                ],
                default="default",
            ),
            "vad": boolean(
                "Skip silence with the Silero voice-activity filter (ASR_VAD_ENABLED).", default=True
            ),
            "beamSize": integer("Beam search width (ASR_BEAM_SIZE).", minimum=1, maximum=10, default=5),
            "batchSize": integer(
                "faster-whisper: 30 s windows per batch for audio over 30 s (ASR_BATCH_SIZE); 1 decodes "
                "sequentially; unset: the predictor's default, 8 (CPU and CUDA).",
                minimum=1,
                maximum=64,
            ),
        },
        default={},
        **{
            "x-kubernetes-validations": [
                min_max_rule(),
                {
                    "rule": "!(has(self.model) && has(self.storageUri))",
                    "message": "set model or storageUri, not both",
                },
                {
                    "rule": "self.engine != 'whisper' || "
                    "self.computeType in ['default', 'float16', 'float32']",
                    "message": "engine whisper (openai-whisper) supports computeType float16 or float32 only",
                },
            ]
        },
    )


def voice_schema() -> Schema:
    return obj(
        "A voice sample for XTTS cloning: a short clean recording of one speaker (6–30 s).",
        {
            "name": string(
                "Voice name, used in requests (voice=<name>) and as the file name under /voices.",
                pattern=VOICE_NAME_PATTERN,
                maxLength=63,
            ),
            "configMapKeyRef": obj(
                "An existing ConfigMap (same namespace) holding the sample; it is mounted, not copied.",
                {
                    "name": string("ConfigMap name.", pattern=K8S_NAME_PATTERN, maxLength=253),
                    "key": string(
                        "Key in binaryData (or data) holding the audio file, e.g. anna.wav.",
                        minLength=1,
                        maxLength=253,
                    ),
                },
                required=["name", "key"],
            ),
            "data": string(
                "The sample inline, base64-encoded, at most 1 MiB of base64 (768 KiB of audio; use "
                "configMapKeyRef for more). The operator stores it in a ConfigMap of its own.",
                format="byte",
                maxLength=MAX_INLINE_BASE64,
            ),
            "format": string(
                "Audio container of the sample, the file extension under /voices.",
                enum=["wav", "mp3", "flac", "ogg", "m4a"],
                default="wav",
            ),
        },
        required=["name"],
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.configMapKeyRef) != has(self.data)",
                    "message": "a voice needs exactly one source: configMapKeyRef or data",
                }
            ]
        },
    )


TTS_ENGINES = ["xtts", "coqui", "piper"]
DEFAULT_TTS_MODELS = {  # filled in by the operator when spec.tts.model is unset (coqui needs one)
    "xtts": "tts_models/multilingual/multi-dataset/xtts_v2",
    "piper": "piper-en_US-joe-medium",
}


def tts_schema() -> Schema:
    return obj(
        "Text-to-speech: an InferenceService (KServe model name xtts, or piper for the piper engine) running "
        "Coqui XTTS-v2 with cloned voices, another coqui-tts model, or a Piper voice on CPU.",
        {
            **predictor_properties("TTS", 0, "TTS"),
            "engine": string(
                "xtts: Coqui XTTS-v2 (voice cloning, multilingual, streaming; a GPU is advised); coqui: "
                "another coqui-tts model (VITS, …; needs model); piper: a Piper voice through ONNX Runtime "
                "(fast on CPU, no GPU, no cloning, no licence to accept) (TTS_ENGINE).",
                enum=TTS_ENGINES,
                default="xtts",
            ),
            "model": string(
                "The model: a coqui-tts model name or directory (engines xtts, coqui), or a Piper voice "
                "(a .onnx path, or a model catalogue name); unset: "
                + ", ".join(f"{model} ({engine})" for engine, model in DEFAULT_TTS_MODELS.items())
                + ".",
                minLength=1,
                maxLength=256,
            ),
            "acceptModelLicense": boolean(
                "You accept the TTS model's licence. Coqui XTTS-v2 (the default model) is under the "
                "Coqui Public Model License (CPML, https://coqui.ai/cpml): NON-COMMERCIAL use only unless "
                "you hold a commercial licence from Coqui. true sets COQUI_TOS_AGREED=1 on the predictor so "
                "it may download XTTS-v2; false (the default) leaves it unset and the predictor refuses the "
                "download (it never accepts the licence itself). Set it only if you have read and agree to "
                "the licence. Not needed (and ignored) for engine piper.",
                default=False,
            ),
            "autoLang": boolean("Detect the language of the text when the request says auto.", default=True),
            "voices": {
                "type": "array",
                "description": "Voice samples for cloning (engine xtts), mounted into the predictor at "
                "/voices. Voices uploaded through the router's voices API are added too.",
                "items": voice_schema(),
                "maxItems": 64,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
            "voiceAliases": {
                **string_map(
                    "OpenAI voice names (alloy, echo, fable, onyx, nova, shimmer, …) mapped to voice names "
                    "(cloned voices, or the model's speakers).",
                    maxProperties=32,
                ),
                "additionalProperties": {"type": "string", "minLength": 1},  # the operator refuses "" too
            },
        },
        default={},
        **{
            "x-kubernetes-validations": [
                min_max_rule(),
                {
                    "rule": "self.engine != 'coqui' || has(self.model)",
                    "message": "engine coqui needs a model (a coqui-tts model name or directory)",
                },
                {
                    "rule": "self.engine != 'piper' || !has(self.voices) || size(self.voices) == 0",
                    "message": "the piper engine cannot clone voices: remove tts.voices or use engine xtts",
                },
                {
                    "rule": "self.engine != 'piper' || (self.resources.gpu == 0 && self.device != 'cuda')",
                    "message": "the piper engine runs on CPU: set tts.resources.gpu to 0 and tts.device to "
                    "auto or cpu",
                },
            ]
        },
    )


def ingress_schema() -> Schema:
    return obj(
        "Expose the router outside the cluster through an Ingress.",
        {
            "enabled": boolean("Create the Ingress.", default=False),
            "host": string("Host name the Ingress answers (required when enabled).", maxLength=253),
            "className": string("IngressClass name, e.g. nginx; unset: the cluster default."),
            "path": string("URL path prefix routed to the router.", default="/", pattern="^/.*"),
            "tls": obj(
                "TLS for the host.",
                {
                    "enabled": boolean("Serve HTTPS for the host.", default=False),
                    "secretName": string(
                        "Secret with the certificate (type kubernetes.io/tls); default <stack>-router-tls."
                    ),
                },
                default={},
            ),
            "annotations": string_map(
                "Ingress annotations, merged over the defaults (ingress-nginx proxy-body-size from "
                "limits.maxBazarrUploadMb, read/send timeouts from limits.requestTimeoutSeconds, no request "
                "buffering) so Bazarr's large uploads pass."
            ),
        },
        default={},
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "!self.enabled || has(self.host)",
                    "message": "ingress.host is required when the ingress is enabled",
                }
            ]
        },
    )


def router_schema() -> Schema:
    return obj(
        "The OpenAI- and Bazarr-compatible router in front of the predictors.",
        {
            "replicas": integer("Router pods.", minimum=0, maximum=50, default=1),
            "image": string("Container image override for the router (default from the operator)."),
            "serviceType": string(
                "Type of the router's Service.",
                enum=["ClusterIP", "NodePort", "LoadBalancer"],
                default="ClusterIP",
            ),
            "ingress": ingress_schema(),
            "apiKeySecretRef": obj(
                "Secret holding the accepted API keys (ROUTER_API_KEYS): one key, or several separated by "
                "commas on one line (a trailing newline is ignored; keys on separate lines are NOT split); "
                "unset: no authentication.",
                {
                    "name": string("Secret name (same namespace).", pattern=K8S_NAME_PATTERN, maxLength=253),
                    "key": string("Key in the Secret.", default="api-keys"),
                },
                required=["name"],
            ),
            "corsOrigins": string_list(
                "Browser origins allowed by CORS; empty: no CORS.", "An origin, e.g. https://app.example.com."
            ),
            "limits": obj(
                "Request limits of the router.",
                {
                    "maxUploadMb": integer("OpenAI transcription upload limit in MB.", minimum=1, default=25),
                    "maxBazarrUploadMb": integer("Bazarr /asr upload limit in MB.", minimum=1, default=2048),
                    "maxInputChars": integer(
                        "Speech input text limit in characters.", minimum=1, default=4096
                    ),
                    "requestTimeoutSeconds": integer(
                        "Backend read timeout in seconds.", minimum=1, default=600
                    ),
                },
                default={},
            ),
            "resources": obj(
                "Compute resources of each router pod.",
                {
                    "cpu": quantity("CPU request."),
                    "memory": quantity("Memory request; also the memory limit unless memoryLimit is set."),
                    "cpuLimit": quantity("CPU limit."),
                    "memoryLimit": quantity("Memory limit."),
                },
                default={},
            ),
            **scheduling_properties("router"),
            "env": env_schema(),
        },
        default={},
    )


def condition_schema() -> Schema:
    return obj(
        "A condition of the stack.",
        {
            "type": string("Ready, AsrReady, TtsReady or RouterReady."),
            "status": string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "reason": string("One-word CamelCase reason."),
            "message": string("Human-readable details."),
            "lastTransitionTime": string("When status last changed.", format="date-time"),
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "metadata.generation the condition was computed for.",
            },
        },
        required=["type", "status"],
    )


def component_status_schema(what: str) -> Schema:
    return obj(
        f"Observed state of the {what}.",
        {
            "name": string("Name of the child object."),
            "url": string("URL the router uses to reach it."),
            "model": string("Model it serves: the spec's model name or repo id, or its storageUri."),
            "ready": boolean("Whether it reports ready."),
        },
    )


def status_schema() -> Schema:
    return obj(
        "Observed state, written by the operator.",
        {
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "metadata.generation last reconciled.",
            },
            "conditions": {
                "type": "array",
                "description": "Ready, AsrReady, TtsReady, RouterReady.",
                "items": condition_schema(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "routerUrl": string(
                "In-cluster URL of the router: the address to give Bazarr and OpenAI clients."
            ),
            "externalUrl": string("URL through the Ingress, when enabled."),
            "asr": component_status_schema("ASR InferenceService"),
            "tts": component_status_schema("TTS InferenceService"),
            "voices": string_list("Voice ConfigMaps mounted into the TTS predictor.", "A ConfigMap name."),
            "kopf": passthrough("Kopf's own bookkeeping (handler progress)."),
        },
    )


def apply_defaults(schema: Schema, value: Any) -> Any:
    """Apply a structural schema's ``default`` values the way the API server does (a new object)."""
    value = copy.deepcopy(value)
    _default_in_place(schema, value)
    return value


def _default_in_place(schema: Schema, value: Any) -> None:
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _default_in_place(sub, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default_in_place(schema["items"], item)


def complete_defaults(schema: Schema) -> Schema:
    """Spell out every object ``default: {}`` with its nested defaults (innermost first).

    The API server checks a default against the node's CEL rules as written, without applying the nested
    defaults first: ``default: {}`` on ``spec`` fails ``self.asr.enabled || ...`` with "no such key". A
    spelled-out default defaults exactly as ``{}`` would, and satisfies the rules.
    """
    for sub in schema.get("properties", {}).values():
        complete_defaults(sub)
    if isinstance(schema.get("items"), dict):
        complete_defaults(schema["items"])
    if schema.get("type") == "object" and schema.get("default") == {}:
        schema["default"] = apply_defaults(schema, {})
    return schema


def spec_schema() -> Schema:
    return complete_defaults(_spec_schema())


def _spec_schema() -> Schema:
    return obj(
        "Desired state of the speech stack.",
        {
            "deploymentMode": string(
                "KServe deployment mode of the predictors: Standard (Deployments, no request timeouts) or "
                "Knative (serverless, scale to zero).",
                enum=["Standard", "Knative"],
                default="Standard",
            ),
            "asr": asr_schema(),
            "tts": tts_schema(),
            "router": router_schema(),
        },
        default={},
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "self.asr.enabled || self.tts.enabled",
                    "message": "enable at least one of asr and tts",
                },
                {
                    "rule": "self.deploymentMode == 'Knative' || "
                    "((!self.asr.enabled || self.asr.minReplicas >= 1) && "
                    "(!self.tts.enabled || self.tts.minReplicas >= 1))",
                    "message": "minReplicas 0 (scale to zero) needs deploymentMode Knative",
                },
            ]
        },
    )


def printer_columns() -> list[dict[str, Any]]:
    return [
        # From the status: the spec leaves asr.model unset for the default (large-v3) and with a storageUri.
        {"name": "ASR", "type": "string", "jsonPath": ".status.asr.model", "description": "ASR model"},
        {"name": "TTS", "type": "string", "jsonPath": ".status.tts.model", "description": "TTS model"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
            "description": "Whether the whole stack serves",
        },
        {
            "name": "URL",
            "type": "string",
            "jsonPath": ".status.routerUrl",
            "description": "In-cluster router URL",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def openapi_schema() -> Schema:
    return obj(
        "VoiceStack runs Whisper speech-to-text and XTTS-v2 or Piper text-to-speech as KServe "
        "InferenceServices behind an OpenAI- and Bazarr-compatible router.",
        {
            "apiVersion": string("Versioned schema of this representation of an object."),
            "kind": string("REST resource this object represents."),
            # The API server allows nothing but the type here (not even a description): metadata is implicit.
            "metadata": {"type": "object"},
            "spec": spec_schema(),
            "status": status_schema(),
        },
    )


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition as a dict."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "voice-stack"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": ["all", "voice-stack"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns(),
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


def render() -> str:
    header = (
        "# Generated by `python -m voicestack_operator.crd`; "
        "edit operator/voicestack_operator/crd.py instead.\n"
    )
    return header + yaml.safe_dump(crd(), sort_keys=False, width=120, allow_unicode=True)


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
