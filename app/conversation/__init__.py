"""The path of one message: pipeline, commands, keywords, dialogue, contacts, the inbox."""
