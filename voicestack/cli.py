"""``voicestack``: one entry point, a subcommand per component.

Each subcommand hands the rest of the command line to the component's own ``main``. KServe parses
``sys.argv`` when it is imported, so ``sys.argv`` is rewritten to the subcommand's arguments first.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "asr": ("voicestack_predictors.asr.__main__", "Whisper speech-to-text predictor (KServe)"),
    "tts": ("voicestack_predictors.tts.__main__", "Text-to-speech predictor: Piper, Coqui XTTS-v2 (KServe)"),
    "router": ("voicestack_router.__main__", "OpenAI- and Bazarr-compatible API in front of the predictors"),
    "operator": ("voicestack_operator.__main__", "Kopf operator for VoiceStack resources"),
    "models": ("voicestack.models.cli", "List the model catalogue; pull and verify models into the cache"),
    "up": ("voicestack.up", "Run ASR, TTS and the router locally as separate processes"),
}


def usage() -> str:
    lines = ["usage: voicestack <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {about}" for name, (_, about) in COMMANDS.items()]
    lines += ["", "Run 'voicestack <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    if args[0] in {"-V", "--version"}:
        from voicestack import __version__

        print(__version__)
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"voicestack: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    sys.argv = [f"voicestack {command}", *rest]
    module = importlib.import_module(COMMANDS[command][0])
    result = module.main(rest)
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
