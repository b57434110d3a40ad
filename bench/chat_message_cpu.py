"""Benchmark: the CPU one consumer message costs the chat process, measured in-process, whatever the box's load.

    .venv/bin/python bench/chat_message_cpu.py                 # after bench/chat_load.py has prepared its database
    .venv/bin/python bench/chat_message_cpu.py --profile 25    # and the 25 costliest functions (cProfile)

Runs what a consumer's socket runs for a message (``chat.consumers.base._run``: ``services.consumer_message``
with its frames collected), on ``bench/chat_load.py``'s scratch database, for ``--messages`` messages spread
over ``--consumers`` chats with the bot, the same questions as the load bench; and what a socket's connect runs
(``start_chat`` and the ready frame with the history) for ``--consumers`` new chats. Reported: the thread's CPU per
message and per connect (``time.thread_time``: PostgreSQL's work and the waits for it are not counted, the ORM's
and the bot's are), the wall time, and the statements per message. The socket's share on the event loop (Redis,
framing) is not in it; ``chat_load.py`` reports the whole process.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time

import _harness as h
import chat_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--consumers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="report each round; the median is the figure")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions (cProfile)")
    args = parser.parse_args()
    h.start_embedded()
    database = h.ScratchDatabase(chat_load.DB_NAME)
    if not database.exists():
        raise SystemExit("run bench/chat_load.py once first: it prepares the scratch database")
    env = chat_load.environment(database, tempfile.mkdtemp(prefix="bench-chat-index-"))
    h.setup_django(**{k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SEARCH_INDEX_DIR", "SUPPORT_HOURS",
                                          "SUPPORT_WEEKDAYS")})  # fmt: skip
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat import knowledge, services
    from chat.consumers.base import _run
    from chat.consumers.consumer import ConsumerChatConsumer
    from chat.models import ChatSession
    from crm.models import Consumer

    knowledge.rebuild_index()
    knowledge.warm_up()
    consumers = list(Consumer.objects.filter(external_id__startswith="BENCH-").order_by("external_id")
                     .values_list("pk", flat=True)[: args.consumers])  # fmt: skip
    if len(consumers) < args.consumers:
        raise SystemExit(f"too few bench consumers: run bench/chat_load.py with --sessions {args.consumers} or more")
    questions = [q for q in chat_load.QUESTIONS if q not in ("谢谢",)]

    def fresh_chats() -> None:
        ChatSession.objects.filter(consumer_id__in=consumers).exclude(state="ended").update(state="ended")
        for pk in consumers:
            services.start_chat(pk, "zh-hans")

    def one(i: int) -> None:
        _run("zh-hans", services.consumer_message, consumers[i % len(consumers)], "zh-hans",
             questions[i % len(questions)])  # fmt: skip

    socket = ConsumerChatConsumer()
    socket.language = "zh-hans"

    def connect(pk: int) -> None:
        socket.consumer_id = pk
        (chat, _created), _frames = _run("zh-hans", services.start_chat, pk, "zh-hans")
        socket._ready(chat.pk, 0)

    ChatSession.objects.filter(consumer_id__in=consumers).exclude(state="ended").update(state="ended")
    cpu = time.thread_time()
    for pk in consumers:
        connect(pk)
    connects = (time.thread_time() - cpu) / len(consumers) * 1000
    figures = []
    for round_ in range(args.rounds):
        fresh_chats()
        for i in range(20):  # warm: the pool's connection, the first compile of each statement kind
            one(i)
        cpu, wall = time.thread_time(), time.perf_counter()
        for i in range(args.messages):
            one(i)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        figures.append(cpu / args.messages * 1000)
        print(f"round {round_ + 1}: {figures[-1]:.2f} ms CPU, {wall / args.messages * 1000:.2f} ms wall a message")
    with CaptureQueriesContext(connection) as queries:
        for i in range(len(questions)):
            one(i)
    print(f"CPU per connect (a new chat: its ticket, greeting, proactive rules, ready frame): {connects:.2f} ms")
    print(f"CPU per bot-answered message: median {statistics.median(figures):.2f} ms over {args.rounds} rounds of "
          f"{args.messages}; {len(queries) / len(questions):.1f} statements a message")  # fmt: skip
    if args.profile:
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        for i in range(args.messages):
            one(i)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
    fresh_chats()
    h.close_connections()


if __name__ == "__main__":
    main()
