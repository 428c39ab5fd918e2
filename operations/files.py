"""The published parts of OUT over HTTP on loopback, so the Prefect UI's artifact links open.

A browser will not open a `file://` link from a web page (the UI), so `maturity serve` serves OUT's
reports, open data and Data Docs at http://127.0.0.1:<files_port>/ and tells its worker where; artifacts
then link there, to the run's own version (never through `current`, which a later run moves). Only
those areas are served: the restricted files (quarantine, quote candidates, the release ledger, the
registry) and the warehouse answer 404, as does any path through `..` or a link leading elsewhere.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FILES_URL_VARIABLE = "MATURITY_FILES_URL"  # where `maturity serve` serves OUT (for its worker's runs)
FILES_ROOT_VARIABLE = "MATURITY_FILES_ROOT"  # the OUT it serves
RUN_ID = r"[0-9]{8}T[0-9]{6}-[0-9a-f]{8}"
SERVED_PATHS = re.compile(
    rf"^/((\.versions/{RUN_ID}|current)/(reports|open-data)|quality/{RUN_ID}/data_docs)(/.*)?$"
)
VERSION_PATH = re.compile(rf"^/\.versions/({RUN_ID})/")
REPLACED = (
    "This run's outputs were replaced by later runs: OUT keeps only the current and the previous version. "
    "The current ones are at /current/reports/ and /current/open-data/."
)


def is_served(url_path: str) -> bool:
    """Whether a request path names a published area: reports or open data, a run's Data Docs."""
    path = urllib.parse.unquote(url_path.split("?", 1)[0].split("#", 1)[0])
    if "\\" in path or "\x00" in path or any(part == ".." for part in path.split("/")):
        return False
    return SERVED_PATHS.match(posixpath.normpath(path) if path != "/" else path) is not None


class PublishedFilesHandler(SimpleHTTPRequestHandler):
    """Static files of OUT's published areas only; everything else is 404. Quiet: no request log."""

    def send_head(self):  # type: ignore[no-untyped-def]  # http.server's own signature
        """Refuse anything outside the published areas, or leading outside OUT through a link."""
        root = Path(self.directory).resolve()
        target = Path(self.translate_path(self.path)).resolve()
        if not is_served(self.path) or not target.is_relative_to(root):
            self.send_error(404, "Not a published file")
            return None
        version = VERSION_PATH.match(self.path)
        if version and not (root / ".versions" / version.group(1)).is_dir():
            self.send_error(410, "Replaced by a later run", REPLACED)
            return None
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:
        """No request log on the terminal (the worker's run log is there)."""


def start_file_server(out: Path, host: str, port: int) -> ThreadingHTTPServer:
    """Serve OUT's published areas on host:port from a daemon thread; shutdown() stops it."""
    handler = functools.partial(PublishedFilesHandler, directory=str(out))
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="published-files", daemon=True).start()
    return server


def served_url(path: Path) -> str | None:
    """The address `maturity serve` serves a file or folder of OUT at, or None when nothing serves it."""
    base, root = os.environ.get(FILES_URL_VARIABLE), os.environ.get(FILES_ROOT_VARIABLE)
    if not base or not root:
        return None
    try:
        relative = path.absolute().relative_to(Path(root).absolute())
    except ValueError:
        return None
    suffix = "/" if path.is_dir() else ""
    url_path = "/" + urllib.parse.quote(relative.as_posix()) + suffix
    return base.rstrip("/") + url_path if is_served(url_path) else None
