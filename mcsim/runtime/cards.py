"""Reading TOML cards (detectors, models): one checked read for every kind of card."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MAX_CARD_BYTES", "read_card_text"]

#: Largest card read [bytes]: a card is a few kB of TOML; /dev/zero must not fill the memory.
MAX_CARD_BYTES = 1 << 20
_WHAT = "a card is a regular TOML file of at most 1 MiB"


def read_card_text(kind: str, path: str | Path) -> str:
    """The text of the TOML card at ``path``, or a ValueError naming ``kind`` ('detector card',
    'model card') and the path: missing, a directory or other non-regular file (device, FIFO,
    socket; never waited on), larger than 1 MiB, not UTF-8 text, unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without a writer
        with os.fdopen(fd, "rb") as fh:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise ValueError(f"{kind} {path}: is a directory, not a TOML file")
            if not stat.S_ISREG(mode):
                raise ValueError(
                    f"{kind} {path}: not a regular file (a device, FIFO or socket); {_WHAT}"
                )
            data = fh.read(MAX_CARD_BYTES + 1)
        if len(data) > MAX_CARD_BYTES:
            raise ValueError(f"{kind} {path}: larger than 1 MiB; {_WHAT}")
        return data.decode("utf-8")
    except FileNotFoundError:
        raise ValueError(f"{kind} {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{kind} {path}: is a directory, not a TOML file") from None
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{kind} {path}: not a text file (byte {err.start} is not UTF-8); a card is TOML text"
        ) from None
    except OSError as err:
        raise ValueError(f"{kind} {path}: cannot read it ({err.strerror})") from None
