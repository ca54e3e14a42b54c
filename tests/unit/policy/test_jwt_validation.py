"""JWT validation table: valid, expired, not yet valid, issuer/audience, alg none,
HS/RS confusion, bad signature, malformed; claims mapping; JWKS reload."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from zonegate.config.policies import JwtAuth, JwtKey
from zonegate.node.policy.errors import PolicyBuildError, Unauthenticated
from zonegate.node.policy.jwt_keys import JwksFile, config_key
from zonegate.node.policy.jwt_validation import JwtValidator

NOW = 1_800_000_000.0
ISSUER = "https://idp.example"
AUDIENCE = "zonegate"
HS_SECRET = "s" * 40


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": NOW + 300,
        "nbf": NOW - 10,
        "groups": ["staff"],
        "scope": "orders:read orders:write",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _hs256_with(secret: bytes, claims: dict[str, Any]) -> str:
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT"}, claims)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _validator(
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    *,
    algorithms: list[str] | None = None,
    **cfg: Any,
) -> JwtValidator:
    algorithms = algorithms or ["RS256", "ES256"]
    keys = [
        JwtKey(kid="rsa-1", algorithm="RS256", public_key_pem=_pem(rsa_key)),
        JwtKey(kid="ec-1", algorithm="ES256", public_key_pem=_pem(ec_key)),
    ]
    if "HS256" in algorithms:
        keys.append(JwtKey(kid="hs-1", algorithm="HS256", secret_env="JWT_SECRET"))
    auth = JwtAuth.model_validate(
        {
            "type": "jwt",
            "issuer": ISSUER,
            "audiences": [AUDIENCE],
            "algorithms": algorithms,
            "keys": [k.model_dump() for k in keys],
            "leeway_s": 30,
            **cfg,
        }
    )
    static = [config_key(k, {"JWT_SECRET": HS_SECRET}) for k in auth.keys]
    consumers = {"alice": frozenset({"customers"})}
    return JwtValidator(auth, static, None, consumers, clock)


def _rs(rsa_key: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str = "rsa-1") -> str:
    return jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": kid})


CASES: list[tuple[str, str | None]] = [
    ("valid_rs256", None),
    ("valid_es256", None),
    ("valid_no_kid", None),
    ("expired", "expired"),
    ("expired_within_leeway", None),
    ("not_yet_valid", "not_yet_valid"),
    ("nbf_within_leeway", None),
    ("wrong_issuer", "wrong_issuer"),
    ("wrong_audience", "wrong_audience"),
    ("audience_in_list", None),
    ("alg_none", "alg_not_allowed"),
    ("alg_none_upper", "alg_not_allowed"),
    ("hs_signed_with_rsa_public_key", "alg_not_allowed"),
    ("bad_signature", "bad_signature"),
    ("tampered_payload", "bad_signature"),
    ("unknown_kid", "unknown_key"),
    ("malformed_garbage", "malformed_token"),
    ("malformed_three_parts", "malformed_token"),
    ("malformed_json_header", "malformed_token"),
    ("missing_exp", "missing_claim:exp"),
    ("exp_not_a_number", "invalid_claim:exp"),
    ("missing_sub", "missing_claim:sub"),
    ("sub_with_crlf", "invalid_claim:sub"),
]


def _token(case: str, rsa_key: Any, other: Any, ec_key: Any) -> str:
    if case == "valid_rs256":
        return _rs(rsa_key, _claims())
    if case == "valid_es256":
        return jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    if case == "valid_no_kid":
        return jwt.encode(_claims(), rsa_key, algorithm="RS256")
    if case == "expired":
        return _rs(rsa_key, _claims(exp=NOW - 31))
    if case == "expired_within_leeway":
        return _rs(rsa_key, _claims(exp=NOW - 29))
    if case == "not_yet_valid":
        return _rs(rsa_key, _claims(nbf=NOW + 31))
    if case == "nbf_within_leeway":
        return _rs(rsa_key, _claims(nbf=NOW + 29))
    if case == "wrong_issuer":
        return _rs(rsa_key, _claims(iss="https://evil.example"))
    if case == "wrong_audience":
        return _rs(rsa_key, _claims(aud="other"))
    if case == "audience_in_list":
        return _rs(rsa_key, _claims(aud=["other", AUDIENCE]))
    if case == "alg_none":
        return _unsigned({"alg": "none", "typ": "JWT"}, _claims()) + "."
    if case == "alg_none_upper":
        return _unsigned({"alg": "None"}, _claims()) + "."
    if case == "hs_signed_with_rsa_public_key":
        return _hs256_with(_pem(rsa_key).encode(), _claims())
    if case == "bad_signature":
        return _rs(other, _claims())
    if case == "tampered_payload":
        head, _, sig = _rs(rsa_key, _claims()).split(".")
        return f"{head}.{_b64(json.dumps(_claims(sub='mallory')).encode())}.{sig}"
    if case == "unknown_kid":
        return _rs(rsa_key, _claims(), kid="rsa-9")
    if case == "malformed_garbage":
        return "not a token"
    if case == "malformed_three_parts":
        return "a.b.c"
    if case == "malformed_json_header":
        return f"{_b64(b'{nope')}.{_b64(b'{}')}.{_b64(b'sig')}"
    if case == "missing_exp":
        return _rs(rsa_key, _claims(exp=None))
    if case == "exp_not_a_number":
        return _rs(rsa_key, {**_claims(), "exp": "tomorrow"})
    if case == "missing_sub":
        return _rs(rsa_key, _claims(sub=None))
    if case == "sub_with_crlf":
        return _rs(rsa_key, _claims(sub="alice\r\nx-admin: 1"))
    raise AssertionError(case)


@pytest.mark.parametrize(("case", "reason"), CASES, ids=[c for c, _ in CASES])
def test_validation_table(
    case: str,
    reason: str | None,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    validator = _validator(rsa_key, ec_key, Clock(NOW))
    token = _token(case, rsa_key, other_rsa_key, ec_key)
    if reason is None:
        identity = validator.validate(token)
        assert identity.consumer == "alice" and identity.method == "jwt"
    else:
        with pytest.raises(Unauthenticated) as info:
            validator.validate(token)
        assert info.value.reason == reason


def test_hs_rs_confusion_with_both_algorithms_allowed(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """An HS256 token keyed with the RSA public key is only checked against HS keys."""
    validator = _validator(rsa_key, ec_key, Clock(NOW), algorithms=["HS256", "RS256", "ES256"])
    forged = _hs256_with(_pem(rsa_key).encode(), _claims())
    with pytest.raises(Unauthenticated) as info:
        validator.validate(forged)
    assert info.value.reason == "bad_signature"
    genuine = _hs256_with(HS_SECRET.encode(), _claims())
    assert validator.validate(genuine).consumer == "alice"


def test_claims_map_to_identity(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    identity = _validator(rsa_key, ec_key, Clock(NOW)).validate(_rs(rsa_key, _claims()))
    assert identity.groups == {"staff", "customers"}  # token groups + declared consumer groups
    assert identity.scopes == {"orders:read", "orders:write"}
    listed = _rs(rsa_key, _claims(sub="bob", scope=["a", "b"], groups="ops"))
    bob = _validator(rsa_key, ec_key, Clock(NOW)).validate(listed)
    assert bob.consumer == "bob" and bob.scopes == {"a", "b"} and bob.groups == {"ops"}


def test_known_consumers_only(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    validator = _validator(rsa_key, ec_key, Clock(NOW), known_consumers_only=True)
    assert validator.validate(_rs(rsa_key, _claims())).consumer == "alice"
    with pytest.raises(Unauthenticated) as info:
        validator.validate(_rs(rsa_key, _claims(sub="stranger")))
    assert info.value.reason == "unknown_consumer"


def test_cached_token_still_expires(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    clock = Clock(NOW)
    validator = _validator(rsa_key, ec_key, clock)
    token = _rs(rsa_key, _claims(exp=NOW + 60))
    assert validator.validate(token).consumer == "alice"
    assert len(validator.cache) == 1
    clock.now = NOW + 60 + 31
    with pytest.raises(Unauthenticated) as info:
        validator.validate(token)
    assert info.value.reason == "expired"


def test_short_hmac_secret_refused() -> None:
    with pytest.raises(PolicyBuildError, match="at least 32 bytes"):
        config_key(JwtKey(algorithm="HS256", secret_env="S"), {"S": "short"})
    with pytest.raises(PolicyBuildError, match="not set"):
        config_key(JwtKey(algorithm="HS256", secret_env="S"), {})


def test_wrong_key_type_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(PolicyBuildError, match="RSA"):
        config_key(JwtKey(algorithm="RS256", public_key_pem=_pem(ec_key)))


def _jwks(*keys: tuple[rsa.RSAPrivateKey, str]) -> str:
    out = []
    for key, kid in keys:
        jwk = dict(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True))
        jwk.update({"kid": kid, "use": "sig"})
        out.append(jwk)
    return json.dumps({"keys": out})


def test_jwks_file_reloaded_on_change_at_most_once_a_second(
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(_jwks((rsa_key, "k1")))
    mono = Clock(0.0)
    auth = JwtAuth(type="jwt", jwks_file=str(path), algorithms=["RS256"], required_claims=[])
    jwks = JwksFile(str(path), auth.algorithms, mono)
    validator = JwtValidator(auth, [], jwks, {}, Clock(NOW))
    old = _rs(rsa_key, _claims(), kid="k1")
    new = _rs(other_rsa_key, _claims(), kid="k2")
    assert validator.validate(old).consumer == "alice"

    path.write_text(_jwks((other_rsa_key, "k2")))
    os.utime(path, ns=(1, 1))  # a different mtime whatever the filesystem's resolution
    mono.now = 0.5  # checked less than a second ago: still the old keys
    assert validator.validate(old).consumer == "alice"
    mono.now = 1.1
    assert validator.validate(new).consumer == "alice"
    with pytest.raises(Unauthenticated):
        validator.validate(old)  # the cache was dropped with the old keys

    path.write_text("{broken")
    os.utime(path, ns=(2, 2))
    mono.now = 2.2
    assert validator.validate(new).consumer == "alice"  # a broken file keeps the last keys
