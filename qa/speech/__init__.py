"""Network speech recognisers that operators run beside the product (docs/speech.md).

No Chinese model can ship inside a wheel here, so Chinese calls are recognised by real engines over
their documented protocols: the FunASR runtime server (``funasr.FunASRBackend``, its WebSocket
protocol in offline mode) and any server of the OpenAI-compatible ``/v1/audio/transcriptions`` API
(``openai_api.OpenAITranscriptionBackend``: FunASR's own, faster-whisper servers, vLLM). Both are
``qa.transcription.TranscriptionBackend``s, chosen per language by ``QA_TRANSCRIPTION_BACKEND``.
"""
