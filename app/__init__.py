"""Migrantinfo: a WhatsApp and SMS information assistant for migrants."""
