"""Auditors' commentary: Markdown per council and theme, in English and Welsh, found, checked and rendered.

The study folder may hold `commentary/<gss_code>/<theme_id>.<language>.md` (docs/inputs.md). Every file is
hostile until checked: its folder must be a council's code, its name a theme and a language, its twin in
the other language present, its bytes UTF-8 text within inputs.max_commentary_bytes, and neither it nor a
folder above it a symbolic link. Rendering allows no raw HTML and no images, only http(s), mailto and
relative links, and moves headings below the report's own.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markupsafe import Markup

from maturity.settings import describe_value, load_limits, load_settings
from maturity.textcheck import LIMITS_FILE, decode_checked_text
from maturity.translations import LANGUAGES

COMMENTARY_FOLDER = "commentary"
SUFFIX = ".md"
LANGUAGE_NAMES = {"en": "English", "cy": "Welsh"}
# Names skipped in commentary folders: hidden files (.DS_Store, editors' swap files), never read.
IGNORED_PREFIX = "."
# A name shown in a message as it is; any other is shown escaped (a name may hold terminal escapes).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")
# Link targets a reader may follow: web pages and email; anything else is shown as plain text.
LINK_SCHEMES = ("http", "https", "mailto")
# The report's theme section is an h3 and "Auditors' commentary" an h4: commentary headings start below.
FIRST_HEADING_LEVEL = 5
LAST_HEADING_LEVEL = 6
LAYOUT = "commentary/<gss_code>/<theme_id>.<language>.md (see docs/inputs.md)"


class CommentaryError(ValueError):
    """A commentary file or folder is unusable: the message names it and says what to do."""


@dataclass(frozen=True)
class CommentaryFile:
    """One checked commentary file: where it is, what it is about, its text and its checksum."""

    source_file: str  # relative to the study folder, with forward slashes
    gss_code: str
    theme: str
    language: str
    text: str
    sha256: str
    size: int


def shown(path: Path) -> str:
    """A path for a message: its name as it is when plain, else escaped (never raw hostile text)."""
    name = path.name
    return str(path) if _PLAIN_NAME.fullmatch(name) else f"{path.parent}/{describe_value(name)}"


def commentary_folder(root: Path) -> Path:
    """Where a study folder's commentary is."""
    return root / COMMENTARY_FOLDER


def is_ignored(entry: os.DirEntry[str] | Path) -> bool:
    """Hidden files in commentary folders are skipped, never read."""
    return entry.name.startswith(IGNORED_PREFIX)


def max_commentary_bytes() -> int:
    """The largest commentary file read (inputs.max_commentary_bytes in config/limits.yaml)."""
    return load_limits().inputs.max_commentary_bytes


def refuse_link_or_escape(path: Path, root: Path) -> None:
    """Stop at a symbolic link, or at anything that resolves outside the study folder (never followed)."""
    if path.is_symlink():
        raise CommentaryError(
            f"{shown(path)}: is a symbolic link, and links in the study folder are not followed (one could "
            "point at any file on this computer). Copy the file itself in place of the link and run again."
        )
    if not path.resolve().is_relative_to(root.resolve()):
        raise CommentaryError(
            f"{shown(path)}: resolves to a place outside the study folder {root}. Copy the commentary into "
            "the study folder and run again."
        )


def parse_commentary_name(path: Path) -> tuple[str, str]:
    """The theme id and language of a commentary file from its name, or a stop naming what is wrong."""
    themes = [theme.id for theme in load_settings().themes]
    if not path.name.endswith(SUFFIX) or path.name.count(".") != 2:
        raise CommentaryError(
            f"{shown(path)}: is not a commentary file. A council's commentary folder holds only files named "
            f"<theme_id>.<language>.md ({themes[0]}.en.md, {themes[0]}.cy.md ...). Rename or remove it "
            "and run again."
        )
    theme, language = path.name.removesuffix(SUFFIX).split(".")
    if theme not in themes:
        raise CommentaryError(
            f"{shown(path)}: {describe_value(theme)} is not a theme in config/framework.yaml (themes: "
            f"{', '.join(themes)}). Rename the file after its theme and run again."
        )
    if language not in LANGUAGES:
        raise CommentaryError(
            f"{shown(path)}: {describe_value(language)} is not a report language ({', '.join(LANGUAGES)}). "
            "Rename the file and run again."
        )
    return theme, language


def decode_commentary(path: Path, data: bytes) -> str:
    """A commentary file's text, checked: UTF-8, no control characters, not empty."""
    try:
        text = decode_checked_text(data, "it")
    except ValueError as error:
        raise CommentaryError(f"{shown(path)}: {error}") from None
    if not text.strip():
        raise CommentaryError(
            f"{shown(path)}: is empty. Write the commentary, or remove the file and its twin in the other "
            "language, and run again."
        )
    return text


def read_commentary_file(path: Path, root: Path, gss_code: str) -> CommentaryFile:
    """One commentary file read and checked (its size before its bytes are read)."""
    refuse_link_or_escape(path, root)
    theme, language = parse_commentary_name(path)
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise CommentaryError(
            f"{shown(path)}: is not a file. A council's commentary folder holds only "
            "<theme_id>.<language>.md files; move it out and run again."
        )
    if info.st_size > (most := max_commentary_bytes()):
        raise CommentaryError(
            f"{shown(path)}: is {info.st_size} bytes, more than inputs.max_commentary_bytes ({most}) in "
            f"{LIMITS_FILE}. Shorten the commentary and run again."
        )
    with path.open("rb") as handle:  # at most one byte past the limit, should the file grow meanwhile
        data = handle.read(most + 1)
    if len(data) > most:
        raise CommentaryError(
            f"{shown(path)}: is more than inputs.max_commentary_bytes ({most}) in {LIMITS_FILE}. Shorten "
            "the commentary and run again."
        )
    return CommentaryFile(
        source_file=path.relative_to(root).as_posix(),
        gss_code=gss_code,
        theme=theme,
        language=language,
        text=decode_commentary(path, data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def check_twins(files: list[CommentaryFile], root: Path) -> None:
    """Stop when a theme's commentary is in one language only: each report must say the same."""
    present = {(f.gss_code, f.theme, f.language) for f in files}
    for file in files:
        for language in LANGUAGES:
            if (file.gss_code, file.theme, language) not in present:
                twin = f"{file.theme}.{language}{SUFFIX}"
                raise CommentaryError(
                    f"{root / file.source_file}: has no {LANGUAGE_NAMES[language]} twin {twin} beside it; "
                    "each theme's commentary is shown in the English and Welsh reports alike. Add "
                    f"{twin} (or remove this file) and run again."
                )


def council_folders(root: Path) -> list[tuple[str, Path]]:
    """The council folders under commentary/, checked: no files, links or unknown codes there."""
    folder = commentary_folder(root)
    refuse_link_or_escape(folder, root)
    if not folder.is_dir():
        raise CommentaryError(
            f"{folder}: is not a folder. Commentary goes in {LAYOUT}; fix it and run again."
        )
    known = load_settings().council_by_code
    found = []
    for entry in sorted(folder.iterdir()):
        if is_ignored(entry):
            continue
        refuse_link_or_escape(entry, root)
        if not entry.is_dir():
            raise CommentaryError(
                f"{shown(entry)}: commentary goes in a folder per council, {LAYOUT}. Move the file into its "
                "council's folder and run again."
            )
        if entry.name not in known:
            raise CommentaryError(
                f"{shown(entry)}: is not the GSS code of a council in config/councils.csv (W06000004 is "
                "Denbighshire). Rename the folder to its council's code and run again."
            )
        found.append((entry.name, entry))
    return found


def read_commentary(root: Path) -> list[CommentaryFile]:
    """Every commentary file of a study folder, checked, in path order (none without commentary/)."""
    folder = commentary_folder(root)
    if not folder.exists() and not folder.is_symlink():
        return []
    files = [
        read_commentary_file(path, root, gss_code)
        for gss_code, council in council_folders(root)
        for path in sorted(council.iterdir())
        if not is_ignored(path)
    ]
    check_twins(files, root)
    return files


def commentary_version(root: Path) -> tuple[tuple[str, int, int], ...]:
    """What the commentary files look like now (path, mtime, size), without reading or following any."""
    folder = commentary_folder(root)
    version = []
    for top, folders, names in os.walk(folder):  # os.walk does not follow links to folders
        for name in sorted(folders) + sorted(names):
            info = os.lstat(os.path.join(top, name))
            version.append((os.path.join(top, name), info.st_mtime_ns, info.st_size))
    return tuple(sorted(version))


def link_allowed(url: str) -> bool:
    """Whether a link may be followed: http(s), mailto or a relative link, never javascript:, data:, file:."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    if parts.scheme:
        return parts.scheme.lower() in LINK_SCHEMES
    return not parts.netloc and not url.strip().startswith("\\")  # //host and \\host leave the page


def commentary_renderer() -> MarkdownIt:
    """A Markdown renderer for untrusted text: no raw HTML, no images, only allowed links."""
    md = MarkdownIt("commonmark", {"html": False})
    md.disable(["html_block", "html_inline", "image"])
    md.validateLink = link_allowed  # type: ignore[method-assign]
    return md


def shift_headings(tokens: list) -> None:
    """Move headings below the report's own: the file's shallowest heading becomes an h5, deeper ones h6."""
    levels = [int(token.tag[1]) for token in tokens if token.type == "heading_open"]
    if not levels:
        return
    top = min(levels)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(LAST_HEADING_LEVEL, FIRST_HEADING_LEVEL + int(token.tag[1]) - top)
            token.tag = f"h{level}"


def render_commentary(text: str) -> Markup:
    """Commentary Markdown as HTML safe in a report: raw HTML escaped, no images, no unsafe links."""
    md = commentary_renderer()
    tokens = md.parse(text)
    shift_headings(tokens)
    return Markup(md.renderer.render(tokens, md.options, {}))
