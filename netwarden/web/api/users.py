"""``/api/v1/me``, ``/api/v1/users`` (admins) and ``/api/v1/tokens`` (API tokens)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field

from netwarden.store.database import Database
from netwarden.accounts import users as accounts
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId, get_db
from netwarden.accounts.sessions import create_token, list_tokens, revoke_token

router = APIRouter(tags=["users"])
ROLE_PATTERN = "^(admin|analyst|viewer)$"


@router.get("/me")
def me(who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The caller: name, role, and whether it came with a session or a token."""
    return {"name": who.name, "role": str(who.role), "via": who.via}


@router.get("/users")
def users(db: Database = Depends(get_db), who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return {"users": [u.to_dict() for u in accounts.list_users(db)]}


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=accounts.MIN_PASSWORD, max_length=1024)
    role: str = Field(pattern=ROLE_PATTERN)
    must_change: bool = True  # an admin sets a first password; the user chooses their own


class UserChange(BaseModel):
    role: str | None = Field(None, pattern=ROLE_PATTERN)
    password: str | None = Field(None, min_length=accounts.MIN_PASSWORD, max_length=1024)


@router.post("/users", status_code=201)
def add_user(user: NewUser = Body(...), db: Database = Depends(get_db),
             who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    try:
        return accounts.add_user(db, user.name, user.password, user.role, must_change=user.must_change).to_dict()
    except accounts.AccountError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 400, str(exc)) from None


@router.patch("/users/{name}")
def change_user(name: str, change: UserChange = Body(...), db: Database = Depends(get_db),
                who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Change a user's role, or reset their password (they must change it at their next login)."""
    try:
        if accounts.get_user(db, name) is None:
            raise HTTPException(404, f"no user {name!r}")
        if change.role is not None:
            accounts.set_role(db, name, change.role)
        if change.password is not None:
            accounts.set_password(db, name, change.password, must_change=name != who.name)
    except accounts.AccountError as exc:
        raise HTTPException(400, str(exc)) from None
    user = accounts.get_user(db, name)
    assert user is not None
    return user.to_dict()


@router.delete("/users/{name}", status_code=204)
def remove_user(name: str, db: Database = Depends(get_db), who: Principal = Depends(require("admin"))) -> None:
    if accounts.get_user(db, name) is None:
        raise HTTPException(404, f"no user {name!r}")
    try:
        accounts.remove_user(db, name)
    except accounts.AccountError as exc:
        raise HTTPException(400, str(exc)) from None


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    days: float | None = Field(None, gt=0, le=3650, description="expires after this many days (default: never)")


@router.get("/tokens")
def tokens(all: bool = False, db: Database = Depends(get_db),  # noqa: A002 - the query parameter's name
           who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The caller's API tokens (``all=true``: everyone's, admins only). Secrets are never shown again."""
    if all and not who.can("admin"):
        raise HTTPException(403, "listing everyone's tokens needs the admin role")
    return {"tokens": list_tokens(db, None if all else who.user_id)}


@router.post("/tokens", status_code=201)
def new_token(token: NewToken = Body(...), db: Database = Depends(get_db),
              who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """A new token acting as the caller; ``token`` in the answer is shown this once."""
    token_id, secret = create_token(db, who.user_id, token.name, days=token.days)
    return {"id": token_id, "name": token.name, "token": secret}


@router.delete("/tokens/{token_id}", status_code=204)
def delete_token(token_id: RowId, db: Database = Depends(get_db), who: Principal = Depends(require("viewer"))) -> None:
    """Revoke one of the caller's tokens (admins: anyone's)."""
    if not revoke_token(db, token_id, None if who.can("admin") else who.user_id):
        raise HTTPException(404, f"no token {token_id} of yours")
