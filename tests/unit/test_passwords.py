"""The password policy and hashing (webapp.accounts.passwords). Low bcrypt
cost so the suite stays fast; the behaviour does not depend on the cost."""

from __future__ import annotations

import pytest

from webapp.accounts.passwords import MAX_LENGTH, MIN_LENGTH, hash_password, policy_problem, verify_password

ROUNDS = 4
PASSPHRASE = "correct horse battery staple"


def test_length_is_checked_first():
    # Short and common: the person hears about length, the rule that matters.
    assert policy_problem("password").startswith(f"Use at least {MIN_LENGTH} characters")
    assert policy_problem("a" * (MIN_LENGTH - 1)).startswith(f"Use at least {MIN_LENGTH} characters")


@pytest.mark.parametrize("password", ["password1234", "PASSWORD1234", "qwerty123456", "abababababab", "111111111111"])
def test_common_or_repetitive_passwords_are_refused(password):
    assert "too easy to guess" in policy_problem(password)


def test_password_equal_to_email_is_refused():
    assert "email" in policy_problem("Creator@Example.com", "creator@example.com ")


def test_long_unrelated_words_pass_without_composition_rules():
    assert policy_problem(PASSPHRASE) is None
    assert policy_problem("a" * 3 + "bcd" + "x" * (MIN_LENGTH - 6)) is None  # exactly the minimum
    assert policy_problem("x" * MAX_LENGTH + "y") is not None


def test_hash_verifies_and_is_a_salted_bcrypt_hash():
    first, second = hash_password(PASSPHRASE, ROUNDS), hash_password(PASSPHRASE, ROUNDS)
    assert first.startswith("$2b$04$")
    assert first != second  # salted
    assert verify_password(PASSPHRASE, first, ROUNDS)
    assert not verify_password(PASSPHRASE + " ", first, ROUNDS)
    assert not verify_password("Correct horse battery staple", first, ROUNDS)


def test_passphrases_longer_than_72_bytes_work_and_differ_after_byte_72():
    base = "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat "
    assert len(base.encode()) > 72
    first, second = base + "alpha", base + "omega"
    stored = hash_password(first, ROUNDS)
    assert verify_password(first, stored, ROUNDS)
    assert not verify_password(second, stored, ROUNDS)  # bcrypt alone would ignore the tail


def test_multibyte_passphrase_over_72_bytes_works():
    passphrase = "żółć gęślą jaźń " * 6
    assert len(passphrase.encode()) > 72
    stored = hash_password(passphrase, ROUNDS)
    assert verify_password(passphrase, stored, ROUNDS)
    assert not verify_password(passphrase[:-1], stored, ROUNDS)


@pytest.mark.parametrize("stored", [None, "", "not-a-bcrypt-hash", "$2b$04$short"])
def test_verify_without_a_usable_hash_is_false_not_an_error(stored):
    assert verify_password(PASSPHRASE, stored, ROUNDS) is False
