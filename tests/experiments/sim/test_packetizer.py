import pytest

from experiments.sim.packetizer import PACKET_OVERHEAD_BYTES, packetize, wire_bytes


def test_overhead_is_62_bytes() -> None:
    assert PACKET_OVERHEAD_BYTES == 62


@pytest.mark.parametrize("size", [1, 1_199, 1_200, 1_201, 2_400, 10_007, 54_321])
def test_split_balanced_and_complete(size: int) -> None:
    packets = packetize(7, size, keyframe=False)
    assert sum(p.payload_bytes for p in packets) == size
    assert all(p.payload_bytes <= 1_200 for p in packets)
    assert len(packets) == -(-size // 1_200)
    sizes = [p.payload_bytes for p in packets]
    assert max(sizes) - min(sizes) <= 1
    assert [p.index_in_frame for p in packets] == list(range(len(packets)))
    assert {p.packets_in_frame for p in packets} == {len(packets)}
    assert sum(p.size_bytes for p in packets) == wire_bytes(size)


def test_bad_mtu() -> None:
    with pytest.raises(ValueError, match="positive"):
        packetize(0, 100, keyframe=True, max_payload_bytes=0)
