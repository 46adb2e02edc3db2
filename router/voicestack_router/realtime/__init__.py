"""OpenAI realtime transcription sessions over WebSocket (``GET /v1/realtime?intent=transcription``).

``routes`` accepts the connection (keys, the per-router session limit), ``session`` runs the protocol,
``audio`` turns the session's input format into 16 kHz PCM, ``vad`` finds turns with Silero VAD and
``protocol`` holds the typed client events and the server events' shapes. See ``docs/realtime.md``.
"""
