from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook

from statpulse.notify import signing

BODY = b'{"type":"test","id":"msg_1"}'
NOW = 1_795_000_000


def test_new_secret_is_whsec_with_24_random_bytes() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 24
    assert secret != signing.new_secret()


def test_official_library_verifies_with_the_current_timestamp() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) == {"type": "test", "id": "msg_1"}


@pytest.mark.parametrize("holder", [0, 1])
def test_rotation_signature_is_accepted_by_either_secret_alone(holder: int) -> None:
    old, new = signing.new_secret(), signing.new_secret()
    headers = signing.headers([old, new], "msg_1", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook([old, new][holder]).verify(BODY, headers)


def test_official_library_rejects_a_tampered_body() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()), BODY)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(BODY + b" ", headers)


def test_verify_accepts_either_rotated_secret() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    headers = signing.headers([old, new], "msg_1", NOW, BODY)
    signing.verify([new], headers, BODY, now=NOW)
    signing.verify([old], headers, BODY, now=NOW)


def test_verify_rejects_a_wrong_secret() -> None:
    headers = signing.headers([signing.new_secret()], "msg_1", NOW, BODY)
    with pytest.raises(signing.SignatureError):
        signing.verify([signing.new_secret()], headers, BODY, now=NOW)


def test_verify_rejects_a_timestamp_outside_tolerance() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", NOW, BODY)
    with pytest.raises(signing.SignatureError, match="tolerance"):
        signing.verify([secret], headers, BODY, now=NOW + 301)


def test_verify_rejects_missing_headers() -> None:
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify([signing.new_secret()], {}, BODY, now=NOW)


def test_sign_matches_the_specification_example() -> None:
    # The example in the Standard Webhooks reference implementations' test suites.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
