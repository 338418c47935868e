"""The HTTP doors: Twilio's webhooks, the JSON API, alerts API, health, admin and Rasa's action."""
