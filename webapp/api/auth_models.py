"""Request and response bodies of /api/v1/auth/*."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No control characters: PostgreSQL text cannot hold NUL, and no address has one.
    email: str = Field(min_length=1, max_length=320, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["creator@example.com"])
    password: str = Field(min_length=1, max_length=1024, examples=["correct horse battery staple"])


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200, description="The refresh token last issued.")


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(
        default=None, max_length=200, description="Revoke this token's login (else the bearer token's)."
    )


class TokenPair(BaseModel):
    access_token: str = Field(description="A JWT (HS256) for `Authorization: Bearer`, valid for expires_in seconds.")
    token_type: str = Field(default="Bearer", examples=["Bearer"])
    expires_in: int = Field(description="Seconds the access token is valid for.", examples=[900])
    refresh_token: str = Field(description="Works once, with /auth/refresh; the login lasts at most 30 days.")


class Me(BaseModel):
    id: int
    email: str
    authenticated_by: str = Field(description="bearer or session", examples=["bearer"])
