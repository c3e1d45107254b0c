"""The HTTP API domain: keys for other systems (see bot.api.keys)."""
