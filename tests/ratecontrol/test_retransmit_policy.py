import pytest

from ratecontrol.retransmit_policy import RetransmitConfig, RetransmitPolicy


def test_the_rule_age_and_once_per_rtt() -> None:
    policy: RetransmitPolicy[str] = RetransmitPolicy()
    policy.on_first_send(7, "p7", 1200, 0.0)
    entry = policy.grant(7, 100.0, rtt_ms=50.0)
    assert entry is not None and entry.payload == "p7"
    assert policy.grant(7, 140.0, rtt_ms=50.0) is None  # resent 40 ms ago, RTT 50
    assert policy.grant(7, 150.0, rtt_ms=50.0) is not None
    assert policy.grant(7, 300.1, rtt_ms=50.0) is None  # first sent more than 300 ms ago
    assert policy.grant(8, 10.0, rtt_ms=None) is None  # never sent


def test_history_survives_the_16_bit_wrap_and_forgets_the_oldest() -> None:
    policy: RetransmitPolicy[int] = RetransmitPolicy(RetransmitConfig(history_packets=8))
    for seq in range(65_530, 65_546):  # unwrapped seqs, as the simulator has them
        policy.on_first_send(seq, seq, 100, 0.0)
    assert policy.highest_seq == 65_545 % 65_536
    entry = policy.grant(9, 1.0, None)  # 65545 on the wire
    assert entry is not None and entry.payload == 65_545
    assert policy.grant(65_537, 1.0, None) is None  # 8 packets back: forgotten
    assert policy.media_packets_sent == 16


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="power of two"):
        RetransmitConfig(history_packets=1000)
    with pytest.raises(ValueError, match="max_age_ms"):
        RetransmitConfig(max_age_ms=-1.0)
