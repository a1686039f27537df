"""Text encodings of registers: detected, checked for script, and refused when foreign.

Chinese registers come in UTF-8 (with or without BOM), GBK, GB18030, UTF-16
(Excel's "Unicode text", with or without a byte order mark) and, from Taiwan
and Hong Kong systems, Big5. :func:`detect` decides, trying to decode the
whole file once:

- UTF-16 by its byte order mark, or by NUL bytes on one side of (nearly) every
  other byte.
- UTF-8 if the file decodes as UTF-8. A file whose non-ASCII text is mostly
  UTF-8 is UTF-8 even if some lines are not: they are read line by line (see
  :mod:`geo.io.text`), GBK lines kept and flagged.
- Else GBK or GB18030. UTF-8 Chinese can decode as GBK nonsense without an
  error, so lines of UTF-8 Chinese are looked for (vectorised) and, if any,
  the file is read line by line with UTF-8 tried first on each line.
- Text read as GBK must be mostly the common simplified Chinese every register
  consists of. If it is not but reads as common traditional Chinese in Big5,
  it is Big5 (read so, with a note); otherwise it is another encoding
  (Shift_JIS, EUC-KR...) and the file is refused with a message naming
  ``--encoding``, never read garbled.

An encoding given by the user is used as given.
"""

from __future__ import annotations

import codecs
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geo.errors import ConfigError, InputError

SAMPLE = 1 << 20  # bytes (or characters) sampled for encoding statistics
_MIN_CHARS = 20  # non-ASCII characters needed before the statistics say anything
_SCRIPT_MIN = 0.8  # share of characters that must be common in the script a codec implies


@dataclass
class Encoding:
    """The encoding of a file, and its whole text when it decoded cleanly.

    Attributes
    ----------
    codec, label : str
        The Python codec, and its name for people (``"GBK"``).
    text : str or None
        The whole file, when it decoded cleanly (None: read it line by line).
    fallback, fallback_label : str or None
        The codec tried on lines ``codec`` cannot decode (``"utf-8"`` is tried
        first, see the module docstring), and its name.
    explicit : bool
        Whether the user gave the encoding.
    notes : list of str
        What was decided beyond the encoding (Big5 detected).
    """

    codec: str
    label: str
    text: str | None = None
    fallback: str | None = None
    fallback_label: str | None = None
    explicit: bool = False
    notes: list[str] = field(default_factory=list)


def detect(data: bytes, encoding: str | None, path: Path) -> Encoding:
    """Choose a file's encoding (see the module docstring) and decode it whole if it can.

    Parameters
    ----------
    data : bytes
        The file's bytes.
    encoding : str, optional
        The encoding the user gave.
    path : Path
        The file, for messages.

    Returns
    -------
    Encoding

    Raises
    ------
    ConfigError
        If ``encoding`` is not a known encoding.
    InputError
        If the text is in another encoding than the ones detected.
    """
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise ConfigError(f"unknown encoding '{encoding}'",
                              zh=f"无法识别的编码“{encoding}”") from exc
        text = _decoded(data, encoding)
        if text is None and "\n,".encode(encoding, errors="ignore") != b"\n,":
            # lines cannot be found in the bytes (UTF-16, EBCDIC): no line-by-line reading
            raise InputError(f"the file is not valid {encoding}; leave the encoding unset to "
                             "detect it, or give the right one",
                             zh=f"文件不是有效的 {encoding} 编码；不指定编码即可自动识别，"
                             "或给出正确的编码", file=path)
        return Encoding(encoding, encoding, text, explicit=True)
    if data.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8-sig", "UTF-8 with BOM", _decoded(data, "utf-8-sig"),
                        fallback="gbk", fallback_label="GBK")
    utf16 = _utf16(data)
    if utf16 is not None:
        text = _decoded(data, utf16[0])
        if text is None:
            raise InputError(f"the file looks like {utf16[1]} but is not valid UTF-16; save "
                             "it again as UTF-8 CSV", zh=f"文件看似 {utf16[1]}，但不是有效的 "
                             "UTF-16，请另存为 UTF-8 CSV", file=path)
        return Encoding(utf16[0], utf16[1], text)
    text = _decoded(data, "utf-8")
    if text is not None:
        return Encoding("utf-8", "UTF-8", text)
    share = _utf8_share(data)
    if share is not None and share >= 0.5:  # mostly UTF-8: some lines are not
        return Encoding("utf-8", "UTF-8", fallback="gbk", fallback_label="GBK")
    for codec, label in (("gbk", "GBK"), ("gb18030", "GB18030")):
        text = _decoded(data, codec)
        if text is not None:
            found = Encoding(codec, label, text)
            if _has_utf8_lines(data):  # rows pasted from a UTF-8 system: read line by line
                found = Encoding(codec, label, fallback="utf-8", fallback_label="UTF-8")
            return _check_script(data, found, path)
    if share is None:  # no valid text beyond ASCII to go by: UTF-8, the default
        return Encoding("utf-8", "UTF-8", fallback="gbk", fallback_label="GBK")
    return _check_script(data, Encoding("gb18030", "GB18030", fallback="utf-8",
                                        fallback_label="UTF-8"), path)


def _utf16(data: bytes) -> tuple[str, str] | None:
    """UTF-16 by its byte order mark, or by NUL bytes in every other byte (no mark)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "UTF-16"
    sample = data[:SAMPLE]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    # digits, delimiters and Latin letters (a third or more of a register's characters)
    # have a NUL as their high byte, always on the same side
    if odd > 0.3 * len(sample) / 2 and even * 10 < odd:
        return "utf-16-le", "UTF-16 LE (no byte order mark)"
    if even > 0.3 * len(sample) / 2 and odd * 10 < even:
        return "utf-16-be", "UTF-16 BE (no byte order mark)"
    return None


def _decoded(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _utf8_share(data: bytes) -> float | None:
    """Share of the non-ASCII characters that are valid UTF-8 (None if none is valid)."""
    for sample in (data[:SAMPLE], data):
        text = sample.decode("utf-8", errors="replace")
        other = len(text) - len(text.encode("ascii", errors="ignore"))
        if other >= _MIN_CHARS or len(sample) == len(data):
            break
    valid = other - text.count("\ufffd")
    return valid / other if valid else None


def _script_share(text: str, codec: str, minimum: int = _MIN_CHARS) -> float | None:
    """Share of the non-ASCII characters that are common in the script ``codec`` implies.

    For GBK: the GB2312 hanzi, punctuation and numbers every simplified-Chinese
    text consists of (rows A1-A3, B0-F7). For Big5 (cp950): its symbols and
    frequently used characters (lead bytes A1-C6). None with fewer than
    ``minimum`` such characters.
    """
    counts = Counter(c for c in text[:SAMPLE] if c > "\x7f")
    total = sum(counts.values())
    if total < max(minimum, 1):
        return None
    common = 0
    for char, n in counts.items():
        try:
            code = char.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(code) != 2:
            continue
        lead = code[0]
        if codec == "cp950":
            common += n * (0xA1 <= lead <= 0xC6)
        else:
            common += n * ((0xA1 <= lead <= 0xA3 or 0xB0 <= lead <= 0xF7) and code[1] >= 0xA1)
    return common / total


def _has_utf8_lines(data: bytes) -> bool:
    """Whether a file that decodes as GBK holds lines of UTF-8 Chinese (pasted rows).

    Three UTF-8 CJK characters in a row (bytes E4-E9 and two continuation
    bytes, three times) practically never occur in GBK text; where they do, the
    line is tested whole. Vectorised over chunks: ~0.3 s for a 120 MB register.
    """
    codes = np.frombuffer(data, dtype=np.uint8)
    step = 1 << 23
    for start in range(0, len(codes), step):
        chunk = codes[start:start + step + 10]
        follows = (chunk & 0xC0) == 0x80
        char = (chunk[:-2] >= 0xE4) & (chunk[:-2] <= 0xE9) & follows[1:-1] & follows[2:]
        for hit in np.flatnonzero(char[:-6] & char[3:-3] & char[6:])[:100]:
            at = start + int(hit)
            end = data.find(b"\n", at)
            line = data[data.rfind(b"\n", 0, at) + 1:end if end >= 0 else len(data)]
            if _decoded(line, "utf-8") is not None:
                return True
    return False


def _check_script(data: bytes, found: Encoding, path: Path) -> Encoding:
    """Big5 and other encodings read as GBK are nonsense without an error: tell by script.

    Text read as GBK must be mostly common simplified Chinese. If it is not, and
    it reads as common traditional Chinese in Big5, it is Big5; otherwise it is
    another encoding (Shift_JIS, EUC-KR...), and the file is refused rather
    than read garbled.
    """
    if found.text is not None:
        sample = found.text[:SAMPLE]
    else:  # lines that are UTF-8 are read as UTF-8, not judged as GBK
        lines = [line for line in data[:SAMPLE].splitlines()
                 if found.fallback != "utf-8" or _decoded(line, "utf-8") is None]
        sample = "\n".join(line.decode(found.codec, errors="ignore") for line in lines)
    simplified = _script_share(sample, "gbk")
    if simplified is None or simplified >= _SCRIPT_MIN:
        return found
    traditional = _script_share(data[:SAMPLE].decode("cp950", errors="ignore"), "cp950")
    if traditional is not None and traditional >= _SCRIPT_MIN:
        return Encoding(
            "cp950", "Big5", _decoded(data, "cp950"),
            notes=["the text is traditional Chinese in Big5 (read as Big5, not GBK; pass "
                   "--encoding gbk if that is wrong); industry names in traditional "
                   "characters are not recognised: give codes"],
        )
    hint = charset_hint(data)
    raise InputError(
        f"the text reads as neither Chinese in GBK (only {simplified:.0%} of its characters "
        f"are common simplified Chinese) nor Big5: it is in another encoding.{hint} Pass "
        "the file's encoding with --encoding (--encoding gbk reads it as GBK anyway)",
        zh=f"按 GBK 读取时只有 {simplified:.0%} 的字符是常用简体中文，按 Big5 读取也不通：文件是"
        f"其他编码。{hint}请用 --encoding 指定文件的编码（--encoding gbk 仍按 GBK 读取）",
        file=path,
    )


def plausible(text: str, codec: str) -> bool:
    """Say whether a line decoded by a fallback codec reads as text in that codec.

    Parameters
    ----------
    text : str
        The decoded line.
    codec : str
        The codec that decoded it.

    Returns
    -------
    bool
        For GBK, whether its characters are mostly common simplified Chinese
        (a corrupt UTF-8 line often decodes as GBK nonsense); True otherwise.
    """
    if codec != "gbk":
        return True  # UTF-8 that decodes is UTF-8: random bytes almost never do
    share = _script_share(text, codec, minimum=1)
    return share is not None and share >= _SCRIPT_MIN


def charset_hint(data: bytes) -> str:
    """Return charset-normalizer's guess of the encoding, as a sentence for a message.

    Parameters
    ----------
    data : bytes
        The file's bytes (the first 200,000 are used).

    Returns
    -------
    str
        `` It may be shift_jis; ...`` or an empty string.
    """
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
    except Exception:  # noqa: BLE001 - the hint is optional, the error is not
        return ""
    if best is None:
        return ""
    return f" It may be {best.encoding}; if so, pass that encoding (--encoding)."
