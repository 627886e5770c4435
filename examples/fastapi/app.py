"""The FastAPI example app (README, "Example apps"): accounts-rs's accounts-js REST API
(``accounts.asgi``) in cookie mode, the shared page in examples/web, a development inbox for the
mail it sends.

    pip install -r requirements.txt && python app.py        → http://localhost:8000

Settings by environment: PORT, ACCOUNTS_DB (default sqlite:accounts-example.db),
ACCOUNTS_TOKEN_SECRET, ACCESS_TOKEN_SECONDS (the browser tests use a few seconds to see a refresh),
ACCOUNTS_DEV_INBOX=1 for the development inbox (every mail the app sends, reset links included, at
/inbox: never in production).
"Sign in with" an OpenID provider (docs/oauth.md): OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
OIDC_LABEL; register http://localhost:PORT/auth/callback as the client's redirect URI.
Passkeys work on http://localhost:PORT (browsers treat localhost as secure; elsewhere WebAuthn
needs https).
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path
from typing import Any, Dict, List

import segno
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

import accounts
from accounts.asgi import CurrentUser, rest_app

PORT = int(os.environ.get("PORT", "8000"))
SITE_URL = f"http://localhost:{PORT}"
WEB = Path(__file__).resolve().parent.parent / "web"

#: The development inbox: what send_mail would deliver, newest first (only with ACCOUNTS_DEV_INBOX=1).
DEV_INBOX = os.environ.get("ACCOUNTS_DEV_INBOX") == "1"
mails: List[Dict[str, Any]] = []
if DEV_INBOX:
    print("WARNING: ACCOUNTS_DEV_INBOX=1 serves every mail this app sends (reset links included) at /inbox. Never in production.")

#: An OpenID provider when configured, as provider "corp".
OIDC = (
    {
        "type": "oidc",
        "issuer": os.environ["OIDC_ISSUER"],
        "clientId": os.environ["OIDC_CLIENT_ID"],
        "clientSecret": os.environ.get("OIDC_CLIENT_SECRET"),
        "redirectUri": f"{SITE_URL}/auth/callback",
    }
    if os.environ.get("OIDC_ISSUER")
    else None
)

server = accounts.AccountsServer.from_config(
    {
        "db": os.environ.get("ACCOUNTS_DB", "sqlite:accounts-example.db"),
        # A random secret per start logs everybody out on restart; set one to keep sessions.
        "tokenSecret": os.environ.get("ACCOUNTS_TOKEN_SECRET") or secrets.token_hex(32),
        "siteUrl": SITE_URL,
        "tokenConfigs": {"accessToken": {"expiresIn": int(os.environ.get("ACCESS_TOKEN_SECONDS", "900"))}},
        "services": {
            "password": {"requireEmailVerification": True, "sendVerificationEmailAfterSignup": True, "returnTokensAfterResetPassword": True},
            **({"oauth": {"providers": {"corp": OIDC}}} if OIDC else {}),
            # Passkeys (docs/passkeys.md): the rp id is the site's host; the browser's origin must be listed.
            "webauthn": {"rpId": "localhost", "rpName": "accounts-rs example", "origins": [SITE_URL]},
        },
        # Cookie sessions (docs/web.md). Plain http on localhost during development: Secure
        # (__Host-) cookies need https elsewhere, so keep secure on (the default) in production.
        "web": {"cookies": {"secure": os.environ.get("ENVIRONMENT") == "production"}},
    },
    # Without the development inbox a real app delivers mail here (SMTP, a mail API).
    send_mail=lambda mail: mails.insert(0, mail) if DEV_INBOX else None,
)

current_user = CurrentUser(server)

app = FastAPI(title="accounts-rs FastAPI example")
app.mount("/accounts", rest_app(server, path="/"))
app.mount("/static", StaticFiles(directory=WEB), name="static")


class Revoke(BaseModel):
    sessionId: str


# Plain `def` routes: FastAPI runs them in its thread pool, so the native calls never block the loop.
@app.get("/api/me")
def me(user: Dict[str, Any] = Depends(current_user)) -> Dict[str, Any]:
    return {"user": user}


@app.get("/api/sessions")
def sessions(request: Request, user: Dict[str, Any] = Depends(current_user)) -> Dict[str, Any]:
    current = server.find_session_by_access_token(request.state.access_token)
    listed = [s for s in server.list_sessions(user["id"]) if s["valid"]]
    return {"sessions": [{**s, "current": s["id"] == current["id"]} for s in listed]}


@app.post("/api/sessions/revoke")
def revoke(body: Revoke, user: Dict[str, Any] = Depends(current_user)) -> Dict[str, Any]:
    # Only the caller's own sessions.
    if body.sessionId not in {s["id"] for s in server.list_sessions(user["id"])}:
        raise HTTPException(status_code=404, detail="Session not found")
    server.revoke_session(body.sessionId)
    return {}


@app.get("/api/qr.svg")
def qr(data: str, user: Dict[str, Any] = Depends(current_user)) -> Response:
    if not data.startswith("otpauth://"):
        raise HTTPException(status_code=400, detail="Not an otpauth URL")
    svg = io.BytesIO()
    segno.make(data, error="m").save(svg, kind="svg", scale=4, border=1, xmldecl=False)
    return Response(svg.getvalue(), media_type="image/svg+xml")


@app.get("/api/oauth/providers")
def oauth_providers() -> Dict[str, Any]:
    return {"providers": [{"name": "corp", "label": os.environ.get("OIDC_LABEL", "your company")}] if OIDC else []}


@app.get("/dev/mails")
async def dev_mails() -> Dict[str, Any]:
    if not DEV_INBOX:
        raise HTTPException(status_code=404, detail="Not Found")
    return {"mails": mails}


PAGE = (WEB / "index.html").read_text().replace("{{backend}}", "FastAPI + accounts.asgi")


@app.get("/", response_class=HTMLResponse)
@app.get("/inbox", response_class=HTMLResponse)
@app.get("/verify-email/{token}", response_class=HTMLResponse)
@app.get("/reset-password/{token}", response_class=HTMLResponse)
@app.get("/magiclink/{token}", response_class=HTMLResponse)
@app.get("/auth/callback", response_class=HTMLResponse)
async def page() -> str:
    return PAGE


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT)
