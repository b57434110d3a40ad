"""The chat sockets: ``consumer`` (a consumer's, /ws/chat/, signed token) and ``agent`` (an agent's console,
/ws/chat/agent/, admin session); ``base`` is what both share. The protocol is docs/chat-protocol.md.
"""
