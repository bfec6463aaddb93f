"""Reading TOML cards (detectors, models): one checked read for every kind of card."""

from __future__ import annotations

from pathlib import Path

__all__ = ["read_card_text"]


def read_card_text(kind: str, path: str | Path) -> str:
    """The text of the TOML card at ``path``, or a ValueError naming ``kind`` ('detector card',
    'model card') and the path: missing, a directory, not UTF-8 text, unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8")
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
