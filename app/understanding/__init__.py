"""Understanding free text: one engine interface, an embedded engine and a Rasa engine."""
