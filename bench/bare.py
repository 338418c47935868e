"""The floor any webhook pays: parse the form, answer fixed TwiML (one uvicorn worker, like the app)."""

from fastapi import FastAPI, Request, Response

FIXED_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hola. Escribe MENU.</Message></Response>'

app = FastAPI()


@app.post("/webhooks/twilio")
async def webhook(request: Request) -> Response:
    await request.form()
    return Response(FIXED_TWIML, media_type="application/xml")


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}
