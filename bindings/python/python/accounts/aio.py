"""asyncio face of accounts-rs: the same methods as ``accounts.AccountsServer``, as coroutines.

Each call runs the native method on a worker thread (the native code releases the GIL), so the
event loop never waits for argon2 or SQLite.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union

from . import _native

T = TypeVar("T")
Json = Dict[str, Any]


async def _run(fn: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args))


class PasswordService:
    """``server.password`` with coroutine methods."""

    def __init__(self, sync: _native.PasswordService) -> None:
        self._sync = sync
        self.two_factor = TwoFactor(sync.two_factor)

    async def create_user(self, user: Json) -> str:
        return await _run(self._sync.create_user, user)

    async def authenticate(self, params: Json) -> Json:
        return await _run(self._sync.authenticate, params)

    async def find_user_by_email(self, email: str) -> Optional[Json]:
        return await _run(self._sync.find_user_by_email, email)

    async def find_user_by_username(self, username: str) -> Optional[Json]:
        return await _run(self._sync.find_user_by_username, username)

    async def set_password(self, user_id: str, password: str) -> None:
        await _run(self._sync.set_password, user_id, password)

    async def add_email(self, user_id: str, email: str, verified: bool = False) -> None:
        await _run(self._sync.add_email, user_id, email, verified)

    async def remove_email(self, user_id: str, email: str) -> None:
        await _run(self._sync.remove_email, user_id, email)

    async def send_verification_email(self, address: str) -> None:
        await _run(self._sync.send_verification_email, address)

    async def verify_email(self, token: str) -> None:
        await _run(self._sync.verify_email, token)

    async def send_reset_password_email(self, address: str) -> None:
        await _run(self._sync.send_reset_password_email, address)

    async def send_enrollment_email(self, address: str) -> None:
        await _run(self._sync.send_enrollment_email, address)

    async def reset_password(self, token: str, new_password: str, infos: Optional[Json] = None, code: Optional[str] = None) -> Optional[Json]:
        return await _run(self._sync.reset_password, token, new_password, infos, code)

    async def change_password(self, user_id: str, old_password: str, new_password: str) -> None:
        await _run(self._sync.change_password, user_id, old_password, new_password)


class TwoFactor:
    """``server.password.two_factor`` with coroutine methods."""

    def __init__(self, sync: _native.TwoFactor) -> None:
        self._sync = sync

    async def get_new_auth_secret(self) -> Json:
        return await _run(self._sync.get_new_auth_secret)

    async def set(self, user_id: str, secret: Union[str, Json], code: str) -> List[str]:
        return await _run(self._sync.set, user_id, secret, code)

    async def unset(self, user_id: str, code: str) -> None:
        await _run(self._sync.unset, user_id, code)

    async def regenerate_recovery_codes(self, user_id: str, code: str) -> List[str]:
        return await _run(self._sync.regenerate_recovery_codes, user_id, code)

    async def is_set(self, user_id: str) -> bool:
        return await _run(self._sync.is_set, user_id)


class MagicLinkService:
    """``server.magic_link`` with coroutine methods."""

    def __init__(self, sync: _native.MagicLinkService) -> None:
        self._sync = sync

    async def request_magic_link_email(self, email: str) -> None:
        await _run(self._sync.request_magic_link_email, email)


class OAuthService:
    """``server.oauth`` with coroutine methods."""

    def __init__(self, sync: _native.OAuthService) -> None:
        self._sync = sync

    async def authorization_url(self, provider: str, options: Optional[Json] = None) -> Json:
        return await _run(self._sync.authorization_url, provider, options)

    async def link_account(self, user_id: str, provider: str, params: Json) -> Json:
        return await _run(self._sync.link_account, user_id, provider, params)

    async def unlink_account(self, user_id: str, provider: str) -> None:
        await _run(self._sync.unlink_account, user_id, provider)

    async def list_linked_accounts(self, user_id: str) -> List[Json]:
        return await _run(self._sync.list_linked_accounts, user_id)

    async def provider_tokens(self, user_id: str, provider: str) -> Optional[Json]:
        return await _run(self._sync.provider_tokens, user_id, provider)


class AccountsServer:
    """Same constructor as ``accounts.AccountsServer``; the sync server is ``.sync``."""

    def __init__(self, config: Optional[Json] = None, **options: Any) -> None:
        self.sync = _native.AccountsServer(config, **options)
        self.password = PasswordService(self.sync.password)
        self.magic_link = MagicLinkService(self.sync.magic_link)
        self.oauth = OAuthService(self.sync.oauth)

    @property
    def options(self) -> Json:
        return self.sync.options

    def get_services(self) -> List[str]:
        return self.sync.get_services()

    def on(self, event: str, listener: Callable[[Json], Any]) -> int:
        return self.sync.on(event, listener)

    def off(self, listener_id: int) -> bool:
        return self.sync.off(listener_id)

    async def login_with_service(self, service: str, params: Json, infos: Optional[Json] = None) -> Json:
        return await _run(self.sync.login_with_service, service, params, infos)

    async def authenticate_with_service(self, service: str, params: Json, infos: Optional[Json] = None) -> bool:
        return await _run(self.sync.authenticate_with_service, service, params, infos)

    async def login_with_user(self, user: Any, infos: Optional[Json] = None) -> Json:
        return await _run(self.sync.login_with_user, user, infos)

    async def resume_session(self, access_token: str) -> Json:
        return await _run(self.sync.resume_session, access_token)

    async def refresh_tokens(self, access_token: str, refresh_token: str, infos: Optional[Json] = None) -> Json:
        return await _run(self.sync.refresh_tokens, access_token, refresh_token, infos)

    async def logout(self, access_token: str) -> None:
        await _run(self.sync.logout, access_token)

    async def handle_http(
        self,
        method: str,
        path: str,
        headers: List[Tuple[str, str]],
        body: bytes,
        peer: Optional[str] = None,
        query: Optional[str] = None,
    ) -> Tuple[int, List[Tuple[str, str]], bytes]:
        return await _run(self.sync.handle_http, method, path, headers, body, peer, query)

    async def http_user(self, method: str, path: str, headers: List[Tuple[str, str]], peer: Optional[str] = None) -> Optional[Tuple[Json, str]]:
        return await _run(self.sync.http_user, method, path, headers, peer)

    async def impersonate(self, access_token: str, impersonated: Json, infos: Optional[Json] = None) -> Json:
        return await _run(self.sync.impersonate, access_token, impersonated, infos)

    async def find_user_by_id(self, user_id: str) -> Optional[Json]:
        return await _run(self.sync.find_user_by_id, user_id)

    async def find_session_by_access_token(self, access_token: str) -> Json:
        return await _run(self.sync.find_session_by_access_token, access_token)

    async def deactivate_user(self, user_id: str) -> None:
        await _run(self.sync.deactivate_user, user_id)

    async def activate_user(self, user_id: str) -> None:
        await _run(self.sync.activate_user, user_id)

    async def list_sessions(self, user_id: str) -> List[Json]:
        return await _run(self.sync.list_sessions, user_id)

    async def revoke_session(self, session_id: str) -> bool:
        return await _run(self.sync.revoke_session, session_id)

    async def import_users(self, records: List[Json]) -> Json:
        return await _run(self.sync.import_users, records)

    def get_jwks(self) -> Json:
        return self.sync.get_jwks()

    async def purge_expired(self) -> Json:
        return await _run(self.sync.purge_expired)

    def set_keys(self, token_keys: Json) -> None:
        self.sync.set_keys(token_keys)

    async def reseal_all(self) -> int:
        return await _run(self.sync.reseal_all)

    async def revoke_all_sessions(self, user_id: str, options: Optional[Json] = None) -> int:
        return await _run(self.sync.revoke_all_sessions, user_id, options)
