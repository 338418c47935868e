"""Messages we send first: alerts, their delivery, hand-overs, the queue, rate limits, Twilio's REST API."""
