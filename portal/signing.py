"""The session cookie and the CSRF check, with their serialisers built once per secret.

Flask builds a new `URLSafeTimedSerializer` for the session cookie on every request, and
Flask-WTF one for the CSRF token on every POST; each of them makes a new signer for every
signature it checks or makes, and that signer derives its key (an HMAC of the secret and the
salt) again: 100–200 calls a request, for the same bytes each time. Here each serialiser is
kept per secret, keeps its signers, and each signer its derived keys: the same cookie and token
formats, the same keys and the same checks (tests/core/test_signing.py: cookies and tokens
signed by Flask and Flask-WTF are read here, ours are read by them, others are refused).
"""

from __future__ import annotations

import hmac
import logging

from flask import Flask, current_app, g, request, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from flask_wtf import csrf as wtf_csrf
from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from wtforms import ValidationError

log = logging.getLogger("flask_wtf.csrf")  # Flask-WTF's own logger: the same log lines

#: Flask-WTF's salt for CSRF tokens: tokens it signed are valid here and the other way round.
CSRF_SALT = "wtf-csrf-token"


class KeyedSigner(TimestampSigner):
    """itsdangerous's timestamp signer, deriving its key from each secret once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        derived = self._derived.get(secret_key)
        if derived is None:
            derived = self._derived[secret_key] = super().derive_key(secret_key)
        return derived


class KeptSerializer(URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed serialiser, keeping its signer for each salt (a signer
    holds nothing of what it signs)."""

    default_signer = KeyedSigner

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._signers: dict[str | bytes | None, KeyedSigner] = {}

    def make_signer(self, salt: str | bytes | None = None):
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers[salt] = super().make_signer(salt)
        return signer


#: Past this many serialisers in an app (a new one for each new secret) the table starts again.
MAX_SERIALIZERS = 16


def _serializer(app: Flask, keys: tuple, salt: str, **kwargs) -> KeptSerializer:
    """The serialiser for these secrets and this salt, made once per app."""
    kept = app.extensions.setdefault("rete_serializers", {})
    found = kept.get((keys, salt))
    if found is None:
        if len(kept) >= MAX_SERIALIZERS:
            kept.clear()
        found = kept[(keys, salt)] = KeptSerializer(list(keys), salt=salt, **kwargs)
    return found


#: Values Flask's tagged JSON never tags (exact types: a Markup is a str and is tagged).
_PLAIN = frozenset({str, int, float, bool, type(None)})


class SessionJSON(TaggedJSONSerializer):
    """Flask's tagged JSON for the session, giving plain values back at once instead of asking
    each of its eight tags whether it applies (~10 calls a value): the same JSON."""

    def tag(self, value):
        if type(value) in _PLAIN:
            return value
        return super().tag(value)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its serialiser kept per secret (and fallbacks)."""

    serializer = SessionJSON()

    def get_signing_serializer(self, app: Flask) -> KeptSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        return _serializer(app, keys, self.salt, serializer=self.serializer, signer_kwargs={
            "key_derivation": self.key_derivation, "digest_method": self.digest_method})


def validate_csrf(data: str | None) -> None:
    """`flask_wtf.csrf.validate_csrf` with the app's settings, through a kept serialiser:
    the same checks, in the same order, with the same messages."""
    config = current_app.config
    secret_key = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    if not secret_key:
        raise RuntimeError("A secret key is required to use CSRF.")
    field_name = config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"
    time_limit = config.get("WTF_CSRF_TIME_LIMIT", 3600)
    if not data:
        raise ValidationError("The CSRF token is missing.")
    if field_name not in session:
        raise ValidationError("The CSRF session token is missing.")
    serializer = _serializer(current_app._get_current_object(), (secret_key,), CSRF_SALT)
    try:
        token = serializer.loads(data, max_age=time_limit)
    except SignatureExpired as exc:
        raise ValidationError("The CSRF token has expired.") from exc
    except BadData as exc:
        raise ValidationError("The CSRF token is invalid.") from exc
    if not hmac.compare_digest(session[field_name], token):
        raise ValidationError("The CSRF tokens do not match.")


class CSRFProtect(wtf_csrf.CSRFProtect):
    """Flask-WTF's CSRF protection, checking tokens through `validate_csrf` above."""

    def protect(self, apply_exemptions: bool = False) -> None:
        # Flask-WTF's protect(), step by step, with the kept serialiser.
        if apply_exemptions and (not request.endpoint or self._is_exempt()):
            return
        if request.method not in current_app.config["WTF_CSRF_METHODS"]:
            return
        token = self._get_csrf_token()
        try:
            validate_csrf(token)
        except ValidationError as exc:
            log.info(exc.args[0])
            self._error_response(exc.args[0])
        if request.is_secure and current_app.config["WTF_CSRF_SSL_STRICT"]:
            if not request.referrer:
                self._error_response("The referrer header is missing.")
            if not wtf_csrf.same_origin(request.referrer, f"https://{request.host}/"):
                self._error_response("The referrer does not match the host.")
        g.csrf_valid = True
        g.csrf_checked_token = token  # portal.security.answer_csrf_token gives it back


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
