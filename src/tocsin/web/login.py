"""``/ui/login`` and ``/ui/logout``: an API key once, then a session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.api.auth import authenticate, hash_key
from tocsin.web.access import bind_session, safe_next
from tocsin.web.deps import DbDep, FormDep
from tocsin.web.render import redirect, render

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/ui/") -> HTMLResponse:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, db: DbDep, form: FormDep) -> Response:
    key = str(form.get("api_key", "")).strip()
    target = safe_next(str(form.get("next", "")))
    with db.begin() as conn:
        found = authenticate(conn, key) if key else None
    if found is None:
        # Never echo the key back: it may be a real one with a typo.
        context = {"next": target, "error": "That API key is not valid (or was revoked)."}
        return render(request, "login.html", context, 401)
    request.session.clear()  # a fresh session (and CSRF token) for the new identity
    # The presented key hashes to the row's key_hash: it matched just now.
    bind_session(request.session, found.id, hash_key(key))
    return redirect(request, target)


@router.post("/logout")
def logout(request: Request, form: FormDep) -> Response:
    request.session.clear()
    return redirect(request, "/ui/login")
