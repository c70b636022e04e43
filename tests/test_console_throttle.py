"""Console login back-off (bot.console.auth.LoginThrottle) on a fake clock."""
from __future__ import annotations

from bot.console.auth import LoginThrottle, throttle_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, name: str, address: str, times: int) -> None:
    for _ in range(times):
        assert throttle.retry_after(name, address) == 0
        throttle.failed(name, address)


def test_one_key_however_the_name_is_typed():
    assert throttle_key("wang") == throttle_key("wang ") == throttle_key(" WANG") == throttle_key("ｗａｎｇ")


def test_trailing_space_does_not_give_fresh_tries():
    clock = Clock()
    throttle = LoginThrottle(clock)
    fail(throttle, "wang", "10.0.0.1", 5)
    assert throttle.retry_after("wang ", "10.0.0.1") > 0
    assert throttle.retry_after("Wang", "10.0.0.1") > 0


def test_back_off_doubles_and_is_capped_never_a_lock():
    clock = Clock()
    throttle = LoginThrottle(clock)
    fail(throttle, "wang", "10.0.0.1", 5)
    assert throttle.retry_after("wang", "10.0.0.1") == LoginThrottle.FIRST_DELAY
    clock.now += LoginThrottle.FIRST_DELAY
    assert throttle.retry_after("wang", "10.0.0.1") == 0
    throttle.failed("wang", "10.0.0.1")
    assert throttle.retry_after("wang", "10.0.0.1") == 2 * LoginThrottle.FIRST_DELAY
    for _ in range(10):  # a stranger who keeps trying only meets the cap
        clock.now += LoginThrottle.MAX_DELAY
        throttle.failed("wang", "10.0.0.1")
    assert throttle.retry_after("wang", "10.0.0.1") == LoginThrottle.MAX_DELAY
    clock.now += LoginThrottle.MAX_DELAY
    assert throttle.retry_after("wang", "10.0.0.1") == 0


def test_a_stranger_elsewhere_does_not_keep_the_helper_out():
    clock = Clock()
    throttle = LoginThrottle(clock)
    fail(throttle, "wang", "203.0.113.9", 5)
    for _ in range(3):
        clock.now += throttle.retry_after("wang", "203.0.113.9")
        fail(throttle, "wang", "203.0.113.9", 1)
    assert throttle.retry_after("wang", "203.0.113.9") > 0
    assert throttle.retry_after("wang", "10.0.0.1") == 0  # the helper's own computer


def test_spraying_one_password_over_many_names_is_throttled_per_address():
    clock = Clock()
    throttle = LoginThrottle(clock)
    for number in range(LoginThrottle.FREE_FAILURES["address"]):
        fail(throttle, f"user{number}", "203.0.113.9", 1)
    assert throttle.retry_after("another", "203.0.113.9") > 0
    assert throttle.retry_after("another", "10.0.0.1") == 0


def test_guesses_spread_over_many_addresses_slow_the_account_down_for_at_most_the_cap():
    clock = Clock()
    throttle = LoginThrottle(clock)
    for number in range(LoginThrottle.FREE_FAILURES["account"]):
        fail(throttle, "wang", f"198.51.100.{number}", 1)
    wait = throttle.retry_after("wang", "10.0.0.1")
    assert 0 < wait <= LoginThrottle.MAX_DELAY


def test_success_clears_the_pair_and_old_failures_expire():
    clock = Clock()
    throttle = LoginThrottle(clock)
    fail(throttle, "wang", "10.0.0.1", 4)
    throttle.succeeded("wang ", "10.0.0.1")
    fail(throttle, "wang", "10.0.0.1", 4)
    clock.now += LoginThrottle.WINDOW + 1
    fail(throttle, "wang", "10.0.0.1", 4)
    assert throttle.retry_after("wang", "10.0.0.1") == 0
    clock.now += LoginThrottle.WINDOW + 1
    throttle.retry_after("wang", "10.0.0.1")
    assert not throttle._failures  # nothing kept for keys without recent failures
