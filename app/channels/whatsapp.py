"""WhatsApp's rules that outlive one message: the 24-hour customer-service window."""

from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)  # after the person's last message, free text may be sent; later only templates


def in_window(last_inbound: datetime | None, now: datetime) -> bool:
    """Whether free text may still be sent to someone who last wrote at `last_inbound`."""
    if last_inbound is None:
        return False
    if last_inbound.tzinfo is None:
        last_inbound = last_inbound.replace(tzinfo=now.tzinfo)
    return now - last_inbound < WINDOW
