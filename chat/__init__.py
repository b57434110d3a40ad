"""Live chat: the consumer's socket, the bot, the handoff queue and the agents' console (docs/chat-protocol.md)."""
