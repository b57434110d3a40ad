"""Benchmark: the offline recogniser's real-time factor on one core, and what one worker core handles a day.

    .venv/bin/python bench/transcription.py [--minutes 5] [--stereo]

Makes a few minutes of English call speech with espeak-ng (sentences of a refund call, with pauses),
writes it as the 22,050 Hz WAV espeak-ng produces (so the conversion to 16 kHz is part of the cost),
and runs qa.transcription.PocketsphinxBackend over it in this one process — what one Celery worker
process of the ``transcription`` queue does per recording. ``--stereo`` puts the agent's and the
consumer's turns on separate channels (each channel is recognised on its own).

Prints the audio length, the time taken, the real-time factor (CPU time / audio time: what a core of
its own spends, however busy the rest of the machine is), how many audio hours one core transcribes in
24 hours (24 h / RTF), and the word error rate against the script.
"""

from __future__ import annotations

import argparse
import io
import resource
import time

import _harness as h

CALL = [
    ("agent", "Hello, thank you for calling customer service. How can I help you today?"),
    ("consumer", "I want a refund for my order. The headphones I bought do not work."),
    ("agent", "I am sorry to hear that. Can you tell me your order number please?"),
    ("consumer", "The order number is four five six seven. I paid two hundred yuan."),
    ("agent", "Thank you. I can see the order. The left earphone has no sound, is that right?"),
    ("consumer", "Yes, that is right. I would like my money back, not a new pair."),
    ("agent", "I understand. I will start the refund now. It will arrive in three days."),
    ("consumer", "Thank you very much for your help."),
    ("agent", "You are welcome. Is there anything else I can do for you?"),
    ("consumer", "No, that is all. Goodbye."),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="Length of audio to transcribe.")
    parser.add_argument("--stereo", action="store_true", help="Agent left, consumer right.")
    args = parser.parse_args()

    h.setup_django()
    from qa.transcription import PocketsphinxBackend
    from tests.qa import speech

    turns = {text: speech.pcm(text)[0] for _speaker, text in CALL}
    pause = speech.silence(0.8)
    left, right, words = bytearray(), bytearray(), []
    while len(left) < args.minutes * 60 * 22050 * 2:
        for speaker, text in CALL:
            frames = turns[text] + pause
            quiet = b"\0" * len(frames)
            if args.stereo:
                left += frames if speaker == "agent" else quiet
                right += frames if speaker == "consumer" else quiet
            else:
                left += frames
            words += text.lower().replace(",", "").replace(".", "").replace("?", "").split()
    audio = speech.wav(speech.stereo(bytes(left), bytes(right)), channels=2) if args.stereo else speech.wav(bytes(left))
    seconds = len(left) / 2 / 22050

    backend = PocketsphinxBackend()
    _decoder, loaded = h.timed(backend.decoder)
    cpu_before = time.process_time()
    result, elapsed = h.timed(lambda: backend.transcribe(io.BytesIO(audio), language="en"))
    cpu = time.process_time() - cpu_before

    heard = " ".join(segment.text for segment in result.segments).split()
    rtf = cpu / seconds  # CPU time: what a core of its own spends, whatever else shares this machine
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    layout = "stereo, each channel recognised" if args.stereo else "mono"
    print(f"audio: {seconds / 60:.1f} min of espeak-ng speech ({layout}), 22,050 Hz 16-bit WAV")
    print(f"model load (once per worker process): {loaded:.2f} s")
    print(f"transcribed in {cpu:.1f} s CPU ({elapsed:.1f} s wall): real-time factor {rtf:.3f} on one core")
    print(f"one worker core: {24 / rtf:.0f} audio hours per day (24 h / RTF)")
    print(f"segments: {len(result.segments)}; word error rate {word_error_rate(words, heard):.0%} "
          f"({len(heard)} words recognised, {len(words)} spoken)")  # fmt: skip
    print(f"peak RSS: {peak:.0f} MiB (the whole benchmark, audio built in memory included)")


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """(substitutions + deletions + insertions) / words spoken, by edit distance over words."""
    previous = list(range(len(hypothesis) + 1))
    for i, word in enumerate(reference, 1):
        current = [i]
        for j, heard in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != heard)))
        previous = current
    return previous[-1] / max(len(reference), 1)


if __name__ == "__main__":
    main()
