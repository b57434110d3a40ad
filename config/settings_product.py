"""The product's own knobs: support hours and disputes, live chat, QA, the risk rules and the radio.

Imported by config.settings; each from the environment with a safe default (.env.example)."""

from __future__ import annotations

from config.env import env_bool, env_int, env_list, env_str

# --- Service hours and disputes -------------------------------------------------------------------

# Staffed hours of the service desk, local time: SLA clocks run only inside them.
SUPPORT_HOURS = env_str("SUPPORT_HOURS", "09:00-21:00")
SUPPORT_WEEKDAYS = env_str("SUPPORT_WEEKDAYS", "0-6")  # Monday is 0
# 极速维权: hours a merchant has to answer a dispute opened by a consumer whose tier has instant disputes;
# unanswered by then, it is decided for the consumer (tickets/disputes.py, every minute).
INSTANT_DISPUTE_HOURS = env_int("INSTANT_DISPUTE_HOURS", 24)

# --- Live chat (chat/, docs/chat-protocol.md) ---------------------------------------------------

# Seconds a consumer's chat token stays valid after it is issued.
CHAT_TOKEN_MAX_AGE = env_int("CHAT_TOKEN_MAX_AGE", 86400)
# The platform's key for POST /api/chat/tokens/ (header "Authorization: Api-Key <key>"); empty: staff only.
CHAT_PLATFORM_API_KEY = env_str("CHAT_PLATFORM_API_KEY")
# The department whose queue new chats enter.
CHAT_DEPARTMENT = env_str("CHAT_DEPARTMENT", "after-sales")
# A person takes over after this many bot misses in a row.
CHAT_BOT_MISSES = env_int("CHAT_BOT_MISSES", 2)
# A question consumers answered themselves in "猜你想问" becomes a wording of the article they chose once this
# many different consumers chose it (never fewer than 2: one consumer alone cannot teach the bot).
CHAT_CHOICE_LEARN_CONSUMERS = max(2, env_int("CHAT_CHOICE_LEARN_CONSUMERS", 2))
# A chat accepted but not answered within this many seconds goes back to the queue.
CHAT_ACCEPT_TIMEOUT = env_int("CHAT_ACCEPT_TIMEOUT", 120)
# A chat with the bot alone and silent for this many minutes is resolved.
CHAT_IDLE_MINUTES = env_int("CHAT_IDLE_MINUTES", 30)
# Longest message text in characters, and longest WebSocket frame in bytes.
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 2000)
CHAT_MAX_FRAME_BYTES = env_int("CHAT_MAX_FRAME_BYTES", 16384)
# Frames one socket may send per window of seconds; beyond it they are refused with an error.
CHAT_RATE_FRAMES = env_int("CHAT_RATE_FRAMES", 10)
CHAT_RATE_SECONDS = env_int("CHAT_RATE_SECONDS", 10)
# Largest image a consumer or an agent may send in a chat (JPEG, PNG, WebP or GIF, sniffed from its bytes).
CHAT_ATTACHMENT_MAX_MB = env_int("CHAT_ATTACHMENT_MAX_MB", 5)
# Pixels at most in a chat image (width × height): a small file that would decode to gigabytes is refused.
CHAT_ATTACHMENT_MAX_PIXELS = env_int("CHAT_ATTACHMENT_MAX_PIXELS", 40_000_000)
# A socket relays at most one "typing" frame per this many seconds; more are dropped, never stored.
CHAT_TYPING_SECONDS = env_int("CHAT_TYPING_SECONDS", 3)
# Threads (each with its own database connection) per ASGI process for the chat sockets' database work.
CHAT_DB_THREADS = env_int("CHAT_DB_THREADS", 12)

# --- Tickets: the satisfaction survey of a ticket resolved outside chat (tickets/surveys.py) -------

# The address consumers reach the product at: the survey links they are given start with it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
# A survey link works for this many days after the ticket was resolved.
TICKET_SURVEY_DAYS = env_int("TICKET_SURVEY_DAYS", 7)

# --- QA: recordings and transcripts (qa/transcription.py, docs/transcript-format.md) ------------

# What turns a recording into a transcript: one dotted path for every language, or per language
# ("zh=qa.speech.funasr.FunASRBackend,en=qa.transcription.PocketsphinxBackend,*=..."; "*" is the rest).
# Backends: the offline English recogniser; qa.speech.funasr.FunASRBackend (a FunASR runtime server);
# qa.speech.openai_api.OpenAITranscriptionBackend (an OpenAI-compatible /v1/audio/transcriptions server);
# qa.transcription.ImportedTranscriptsBackend where transcripts are produced elsewhere and imported.
QA_TRANSCRIPTION_BACKEND = env_str("QA_TRANSCRIPTION_BACKEND", "qa.transcription.PocketsphinxBackend")
# The network recognisers (docs/speech.md): where they listen, how long one file may take, how often
# an engine that is unreachable or drops the connection is tried before the recording fails.
QA_FUNASR_URL = env_str("QA_FUNASR_URL", "ws://127.0.0.1:10095")
QA_FUNASR_LANGUAGES = env_list("QA_FUNASR_LANGUAGES", "zh")
QA_FUNASR_SSL_VERIFY = env_bool("QA_FUNASR_SSL_VERIFY", True)
QA_FUNASR_HOTWORDS = env_list("QA_FUNASR_HOTWORDS", "")
QA_OPENAI_ASR_URL = env_str("QA_OPENAI_ASR_URL", "http://127.0.0.1:8000/v1")
QA_OPENAI_ASR_KEY = env_str("QA_OPENAI_ASR_KEY", "")
QA_OPENAI_ASR_MODEL = env_str("QA_OPENAI_ASR_MODEL", "whisper-1")
QA_ASR_TIMEOUT = env_int("QA_ASR_TIMEOUT", 900)
QA_ASR_ATTEMPTS = env_int("QA_ASR_ATTEMPTS", 3)
# Seconds one recording may take to transcribe before it is marked failed (keep it under the broker's
# one-hour visibility timeout, after which an unfinished task is handed to another worker).
QA_TRANSCRIPTION_TIME_LIMIT = env_int("QA_TRANSCRIPTION_TIME_LIMIT", 3000)
# Who speaks on the left and right channels of a stereo recording.
QA_STEREO_SPEAKERS = env_list("QA_STEREO_SPEAKERS", "agent,consumer")
# Largest recording accepted for upload, in megabytes.
QA_RECORDING_MAX_MB = env_int("QA_RECORDING_MAX_MB", 500)

# --- Malicious reviewers (crm/risk.py); shown on the risk patterns' backtest page -----------------------

# A burst: at least RISK_BURST_REVIEWS negative reviews across RISK_BURST_SHOPS shops within RISK_BURST_DAYS,
# looked for in the last RISK_BURST_LOOKBACK_DAYS.
RISK_BURST_REVIEWS = env_int("RISK_BURST_REVIEWS", 5)
RISK_BURST_SHOPS = env_int("RISK_BURST_SHOPS", 4)
RISK_BURST_DAYS = env_int("RISK_BURST_DAYS", 7)
RISK_BURST_LOOKBACK_DAYS = env_int("RISK_BURST_LOOKBACK_DAYS", 90)
# Leverage: RISK_LEVERAGE_ORDERS orders where a refund was asked within RISK_LEVERAGE_DAYS of a negative review.
RISK_LEVERAGE_ORDERS = env_int("RISK_LEVERAGE_ORDERS", 3)
RISK_LEVERAGE_DAYS = env_int("RISK_LEVERAGE_DAYS", 3)
# Copied texts: the same negative text (at least RISK_DUPLICATE_MIN_CHARS characters once spaces and
# punctuation are gone) RISK_DUPLICATE_COPIES times to RISK_DUPLICATE_SHOPS shops.
RISK_DUPLICATE_COPIES = env_int("RISK_DUPLICATE_COPIES", 3)
RISK_DUPLICATE_SHOPS = env_int("RISK_DUPLICATE_SHOPS", 2)
RISK_DUPLICATE_MIN_CHARS = env_int("RISK_DUPLICATE_MIN_CHARS", 2)
# How far back the leverage and copied-text rules look, and the risk patterns (extortion, abuse): a year, so
# that an extortion review just outside half a year is still seen.
RISK_LOOKBACK_DAYS = env_int("RISK_LOOKBACK_DAYS", 180)
RISK_PATTERN_LOOKBACK_DAYS = env_int("RISK_PATTERN_LOOKBACK_DAYS", 365)
# A consumer's pattern score (the weights of the patterns their reviews match, summed) that raises a flag,
# and the score at which an open (not yet decided) extortion flag already holds instant refunds.
RISK_PATTERN_MIN_SCORE = env_int("RISK_PATTERN_MIN_SCORE", 5)
RISK_HOLD_EXTORTION_SCORE = env_int("RISK_HOLD_EXTORTION_SCORE", 8)

# --- The Nine O'Clock Radio (radio/) -----------------------------------------------------------

# When the morning digests are built, local time (HH:MM in TIME_ZONE); installed into django-celery-beat
# once, after which the admin's Periodic tasks owns the schedule.
RADIO_DIGEST_TIME = env_str("RADIO_DIGEST_TIME", "08:30")
# The espeak-ng executable (a name on PATH or a path); missing, digests have no audio and the page says so.
RADIO_ESPEAK_NG = env_str("RADIO_ESPEAK_NG", "espeak-ng")
# Speaking rate in English words per minute (Chinese is read at 4/3 of it, in syllables), and how many items
# of a digest are read aloud (the page shows all).
RADIO_SPEECH_WPM = env_int("RADIO_SPEECH_WPM", 150)
RADIO_AUDIO_ITEMS = env_int("RADIO_AUDIO_ITEMS", 8)
# The recording is stored as MP3 at this constant bit rate (kbit/s; mono speech at 22 kHz): 48 is a seventh
# of the WAV espeak-ng gives, and every phone's browser plays it.
RADIO_MP3_KBPS = env_int("RADIO_MP3_KBPS", 48)
# Items of each channel shown on the digest page before "all N items".
RADIO_PAGE_ITEMS = env_int("RADIO_PAGE_ITEMS", 10)
