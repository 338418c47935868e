"""Channel details at the edge: Twilio's form, TwiML and statuses, SMS and WhatsApp rendering."""
