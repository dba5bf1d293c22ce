"""The frame stamp: a frame number drawn into the picture as large blocks, with a checksum.

Layout (fractions of the picture, so a browser that scales the video down is still read):
a strip at the top left of `STAMP_COLUMNS` x `STAMP_ROWS` square cells. The first column holds
two reference cells (white above black), so the reader's threshold follows whatever the codec
did to brightness and contrast; the other cells carry 24 bits of frame number and an 8-bit
CRC, most significant bit first, row by row. A cell is read from its inner half only, where
block edges and ringing do not reach. At 640x480 a cell is 24 px: three 8x8 DCT blocks wide,
large enough to survive VP8 at 150 kbit/s.
"""

from __future__ import annotations

import numpy as np

STAMP_ROWS = 2
STAMP_COLUMNS = 17  # 1 reference column + 16 data columns
CELL_FRACTION_OF_WIDTH = 24 / 640  # square cells: their height in pixels equals their width
FRAME_ID_BITS = 24
CRC_BITS = 8
FRAME_ID_MODULO = 1 << FRAME_ID_BITS
WHITE_LUMA = 235
BLACK_LUMA = 16
# A cell must stand this far from the threshold, as a share of (white - black), to be trusted.
MIN_MARGIN_FRACTION = 0.12

_DATA_BITS = (STAMP_COLUMNS - 1) * STAMP_ROWS
assert _DATA_BITS == FRAME_ID_BITS + CRC_BITS


def crc8(data: bytes) -> int:
    """CRC-8/ATM (polynomial x^8 + x^2 + x + 1), small and enough to reject misreads."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _bits(frame_id: int) -> list[int]:
    value = frame_id % FRAME_ID_MODULO
    check = crc8(value.to_bytes(3, "big"))
    word = (value << CRC_BITS) | check
    return [(word >> (_DATA_BITS - 1 - i)) & 1 for i in range(_DATA_BITS)]


def cell_size_px(width: int) -> int:
    return max(1, round(width * CELL_FRACTION_OF_WIDTH))


def stamp_box(width: int) -> tuple[int, int]:
    """(width, height) in pixels of the area the stamp covers, from the top-left corner."""
    cell = cell_size_px(width)
    return cell * STAMP_COLUMNS, cell * STAMP_ROWS


def draw_stamp(luma: np.ndarray, frame_id: int) -> None:
    """Draw the stamp of `frame_id` into a luma plane (H, W) uint8, in place."""
    cell = cell_size_px(luma.shape[1])
    luma[0:cell, 0:cell] = WHITE_LUMA
    luma[cell : 2 * cell, 0:cell] = BLACK_LUMA
    for index, bit in enumerate(_bits(frame_id)):
        row, column = divmod(index, STAMP_COLUMNS - 1)
        y, x = row * cell, (column + 1) * cell
        luma[y : y + cell, x : x + cell] = WHITE_LUMA if bit else BLACK_LUMA


def _cell_means(luma: np.ndarray) -> np.ndarray:
    """Mean luma of the inner half of every cell, shape (STAMP_ROWS, STAMP_COLUMNS)."""
    height, width = luma.shape
    cell = width * CELL_FRACTION_OF_WIDTH  # float: the picture may have been rescaled
    if cell * STAMP_ROWS > height or cell < 2:
        raise ValueError(f"a {width}x{height} picture is too small to hold a frame stamp")
    means = np.empty((STAMP_ROWS, STAMP_COLUMNS))
    for row in range(STAMP_ROWS):
        for column in range(STAMP_COLUMNS):
            y0 = round((row + 0.25) * cell)
            y1 = max(y0 + 1, round((row + 0.75) * cell))
            x0 = round((column + 0.25) * cell)
            x1 = max(x0 + 1, round((column + 0.75) * cell))
            means[row, column] = luma[y0:y1, x0:x1].mean()
    return means


def read_stamp(luma: np.ndarray) -> int | None:
    """The frame number in a luma plane, or None when no stamp can be read with confidence.

    Accepts any resolution with the source's aspect of the stamp (the cells scale with the
    width). Never raises on picture content; a picture too small raises ValueError.
    """
    if luma.ndim != 2 or luma.dtype != np.uint8:
        raise ValueError("read_stamp wants a 2-D uint8 luma plane")
    means = _cell_means(luma)
    white, black = means[0, 0], means[1, 0]
    contrast = white - black
    if contrast < (WHITE_LUMA - BLACK_LUMA) * 0.3:
        return None
    threshold = (white + black) / 2
    data = means[:, 1:].reshape(-1)
    if np.min(np.abs(data - threshold)) < MIN_MARGIN_FRACTION * contrast:
        return None
    word = 0
    for bit in data > threshold:
        word = (word << 1) | int(bit)
    value, check = word >> CRC_BITS, word & 0xFF
    if crc8(value.to_bytes(3, "big")) != check:
        return None
    return value
