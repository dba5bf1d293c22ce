import pytest

from experiments.sim.packetizer import (
    MAX_PAYLOAD_BYTES,
    PACKET_OVERHEAD_BYTES,
    packetize,
    wire_bytes,
)


def test_a_full_packet_is_the_1376_bytes_netem_counts_in_a_real_call() -> None:
    assert MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES == 1_376


@pytest.mark.parametrize("size", [1, 1_295, 1_296, 1_297, 2_592, 10_007, 54_321])
def test_split_as_aiortc_cuts_full_pieces_then_the_rest(size: int) -> None:
    packets = packetize(7, size, keyframe=False)
    sizes = [p.payload_bytes for p in packets]
    assert sum(sizes) == size
    assert len(packets) == -(-size // MAX_PAYLOAD_BYTES)
    assert all(s == MAX_PAYLOAD_BYTES for s in sizes[:-1])
    assert 0 < sizes[-1] <= MAX_PAYLOAD_BYTES
    assert [p.index_in_frame for p in packets] == list(range(len(packets)))
    assert {p.packets_in_frame for p in packets} == {len(packets)}
    assert sum(p.size_bytes for p in packets) == wire_bytes(size)


def test_bad_mtu() -> None:
    with pytest.raises(ValueError, match="positive"):
        packetize(0, 100, keyframe=True, max_payload_bytes=0)
