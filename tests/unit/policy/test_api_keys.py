"""API key format, salted hashes, and `zonegate consumer add`."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.cli.main import main
from zonegate.config.policies import Consumer
from zonegate.node.policy.api_keys import (
    Scheme,
    StoredHash,
    cache_digest,
    generate_api_key,
    hash_api_key,
    key_id_of,
)
from zonegate.node.policy.errors import CredentialFormatError


def test_generated_key_shape() -> None:
    key_id, key = generate_api_key()
    assert re.fullmatch(r"[0-9a-f]{16}", key_id)
    assert key.startswith(f"zg_{key_id}_") and len(key) == 3 + 16 + 1 + 43
    assert key_id_of(key) == key_id
    assert generate_api_key()[1] != key


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "zg_",
        "zg_0123456789abcdef",
        "zg_0123456789ABCDEF_" + "a" * 43,
        "xx_0123456789abcdef_" + "a" * 43,
    ],
)
def test_malformed_keys_have_no_id(presented: str) -> None:
    assert key_id_of(presented) is None


_KEY_SHAPE = re.compile(r"zg_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_NEAR_KEYS = st.builds(
    lambda key_id, secret: f"zg_{key_id}_{secret}",
    st.text("0123456789abcdefABX_", min_size=15, max_size=17),
    st.text("ABCxyz019-_=+/. ", min_size=42, max_size=44),
)


@given(st.one_of(_NEAR_KEYS, st.text(max_size=70)))
def test_key_id_is_what_the_key_format_says(presented: str) -> None:
    match = _KEY_SHAPE.fullmatch(presented)
    assert key_id_of(presented) == (match.group(1) if match else None)


@pytest.mark.parametrize(("scheme", "slow"), [("hmac-sha256", False), ("scrypt", True)])
def test_salted_hash_verifies_only_the_key(scheme: Scheme, slow: bool) -> None:
    _, key = generate_api_key()
    first = hash_api_key(key, scheme=scheme, n=1024)
    second = hash_api_key(key, scheme=scheme, n=1024)
    assert first != second and first.startswith(scheme + "$")  # fresh salt each time
    stored = StoredHash.parse(first)
    assert stored.slow is slow
    assert stored.verify(key)
    assert not stored.verify(key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert StoredHash.parse(second).verify(key)
    assert key not in first and key[20:] not in first


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bcrypt$x", "hmac-sha256"),
        ("hmac-sha256$c2FsdA$c2FsdHNhbHRzYWx0c2FsdA", "short"),
        ("hmac-sha256$!!!$c2FsdA", "malformed"),
        ("scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA", "parameters"),
        ("scrypt$1048576$32$1$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA", "memory"),
        ("scrypt$1024$8$1$c2FsdA$c2FsdHNhbHRzYWx0c2FsdA", "short"),
        ("scrypt$abc$8$1$c2FsdA$c2FsdA", "malformed"),
    ],
)
def test_bad_stored_hashes(text: str, message: str) -> None:
    with pytest.raises(CredentialFormatError, match=message):
        StoredHash.parse(text)


def test_cache_digest_is_not_the_key() -> None:
    _, key = generate_api_key()
    digest = cache_digest(key)
    assert len(digest) == 32 and key.encode() not in digest


def test_consumer_add_prints_key_once_and_a_valid_config_entry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import yaml

    assert main(["consumer", "add", "billing-svc", "--group", "internal"]) == 0
    out = capsys.readouterr().out
    keys = re.findall(r"zg_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", out)
    assert len(keys) == 1
    key = keys[0]
    entry = out[out.index("  - name:") :]
    consumer = Consumer.model_validate(yaml.safe_load(entry)[0])
    assert consumer.name == "billing-svc" and consumer.groups == ["internal"]
    (credential,) = consumer.api_keys
    assert credential.id == key_id_of(key)
    assert StoredHash.parse(credential.hash).verify(key)


def test_consumer_add_with_scrypt(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["consumer", "add", "legacy", "--hash", "scrypt"]) == 0
    out = capsys.readouterr().out
    (key,) = re.findall(r"zg_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", out)
    (stored,) = re.findall(r'hash: "([^"]+)"', out)
    assert stored.startswith("scrypt$16384$8$1$") and StoredHash.parse(stored).verify(key)


def test_consumer_add_rejects_bad_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["consumer", "add", "Not Valid"]) == 2
    captured = capsys.readouterr()
    assert "invalid consumer name" in captured.err and "zg_" not in captured.out
