"""Walk the archive like :func:`tlsrpt_tui.core.archive.collect_files`, with sizes and times.

The index needs every candidate file's size and modification time to tell what changed,
and an ordering key that sorts exactly like the scan (so "the first copy of a report"
means the same thing with and without the index, whatever order files were indexed in).

A file's key is bytes: the root's position, then ``\\x02 name \\x00`` for each folder and
``\\x01 name \\x00`` for the file. Within a folder the scan yields files before
sub-folders, each group by name, and walks sub-folders depth first: byte order of these
keys is that order. All files under a folder share the folder's key as a prefix.

The walk is the hot loop of a warm open (one ``stat`` per file, nothing else), so it
keeps per-file data small: paths are built only for the files that need reading.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

from tlsrpt_tui.core.archive import (
    QUARANTINE_MARKER,
    TEMPORARY_SUFFIXES,
    display_name,
)
from tlsrpt_tui.core.text import printable_path

FILE_MARK = b"\x01"
DIR_MARK = b"\x02"
END = b"\x00"
_FS = sys.getfilesystemencoding()
_ERRORS = sys.getfilesystemencodeerrors()
_S_ISDIR = stat.S_ISDIR
_HIDDEN = frozenset({"", ".", "#"})

#: One candidate file: (key, size, mtime in ns, folder number, name, collides).
#: ``name`` is None when the root itself is the file. ``collides``: same relative
#: name as a file under an earlier root, so collect_files shows the path as given.
Entry = tuple[bytes, int, int, int, str | None, bool]
KEY: Final = 0
SIZE: Final = 1
MTIME: Final = 2
FOLDER: Final = 3
NAME: Final = 4
COLLIDES: Final = 5
#: What tells a folder changed: (device, inode, mtime in ns, ctime in ns).
Stamp = tuple[int, int, int, int]
#: A folder the walk visited: (key, parent folder's key, stamp or None if unreadable).
Visited = tuple[bytes, bytes | None, Stamp | None]
#: Lists one open folder: (fd, path as given, absolute path, key, Scan.folders, root
#: index) -> (its files, its sub-folders as (given, absolute, key)), None if unreadable.
Lister = Callable[
    [int, str, str, bytes, list[tuple[str, str, int]], int],
    tuple[list[Entry], list[tuple[str, str, bytes]]] | None,
]


class Scan:
    """The result of a walk: entries in key order, and the folders they are in."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = list(roots)
        self.tops = [str(root) for root in self.roots]
        self.is_dir = [root.is_dir() for root in self.roots]
        #: (path as given, absolute path, root index) per folder (or file root)
        self.folders: list[tuple[str, str, int]] = []
        self.entries: list[Entry] = []
        self.count = 0
        #: Every folder visited (under single-folder roots)
        self.listed: list[Visited] = []
        #: Folders whose files are not in the walk (see :func:`_walk_tree`)
        self.gone: list[bytes] = []
        self._prefixes: dict[int, tuple[str | None, str]] = {}

    def given(self, entry: Entry) -> str:
        """The path as collect_files spells it."""
        folder = self.folders[entry[FOLDER]][0]
        name = entry[NAME]
        return folder if name is None else _join(folder, name)

    def location(self, entry: Entry) -> str:
        """The absolute path, to read the file."""
        folder = self.folders[entry[FOLDER]][1]
        name = entry[NAME]
        return folder if name is None else _join(folder, name)

    def todo(self, entry: Entry) -> tuple[bytes, str, int, int, str]:
        """(key, display, size, mtime, absolute path): what indexing a file needs.

        The hot path of a cold build: folder parts are worked out once per folder.
        """
        name = entry[NAME]
        if name is None or entry[COLLIDES]:
            return (
                entry[KEY],
                self.display(entry),
                entry[SIZE],
                entry[MTIME],
                self.location(entry),
            )
        prefixes = self._prefixes.get(entry[FOLDER])
        if prefixes is None:
            given, absolute, index = self.folders[entry[FOLDER]]
            sep = os.sep
            shown = ""
            if self.is_dir[index]:
                relative = given[len(self.tops[index]) :].lstrip(sep)
                shown = printable_path(relative) + sep if relative else ""
            prefixes = self._prefixes[entry[FOLDER]] = (
                shown if self.is_dir[index] else None,
                absolute if absolute.endswith(sep) else absolute + sep,
            )
        shown_prefix, absolute_prefix = prefixes
        if shown_prefix is None:
            display = self.display(entry)
        else:
            display = shown_prefix + (name if name.isascii() else printable_path(name))
        return (entry[KEY], display, entry[SIZE], entry[MTIME], absolute_prefix + name)

    def todos(self, entries: list[Entry]) -> list[tuple[bytes, str, int, int, str]]:
        """:meth:`todo` of entries of one folder (as :func:`walk_folders` yields them)."""
        todo = self.todo
        if not entries or entries[0][NAME] is None or any(e[COLLIDES] for e in entries):
            return [todo(e) for e in entries]
        todo(entries[0])  # (works the folder's prefixes out)
        shown, absolute = self._prefixes[entries[0][FOLDER]]
        if shown is None:
            return [todo(e) for e in entries]
        return [
            (e[KEY], shown + (n if n.isascii() else printable_path(n)), e[SIZE], e[MTIME],
             absolute + n)
            for e in entries
            for n in (e[NAME],)
            if n is not None
        ]  # fmt: skip

    def display(self, entry: Entry) -> str:
        """The name collect_files shows for this file."""
        given = self.given(entry)
        if entry[COLLIDES]:
            return printable_path(str(Path(given)))
        index = self.folders[entry[FOLDER]][2]
        if not self.is_dir[index]:
            return display_name(Path(given), self.roots[index])
        # Every path of the walk is str(root) + separator + relative parts.
        relative = given[len(self.tops[index]) :].lstrip(os.sep)
        # (the folder given itself, when it cannot be listed: as collect_files shows it)
        return printable_path(relative or str(self.roots[index]))


def root_prefix(index: int) -> bytes:
    return b"%05d" % index


#: Length of a root's own key (root_prefix): longer keys are folders under a root.
ROOT_KEY_LENGTH = 5


def name_bytes(name: str) -> bytes:
    return name.encode(_FS, _ERRORS)


def dir_key(prefix: bytes, parts: Sequence[str]) -> bytes:
    return prefix + b"".join(DIR_MARK + name_bytes(p) + END for p in parts)


def file_key(prefix: bytes, folders: Sequence[str], name: str) -> bytes:
    return dir_key(prefix, folders) + FILE_MARK + name_bytes(name) + END


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix``."""
    return prefix + b"\xff"


def key_location(key: bytes, roots: Sequence[Path]) -> str:
    """The absolute path of the file a key names (the index stores keys, not paths)."""
    index = int(key[:5])
    root = os.path.abspath(roots[index])
    names = [os.fsdecode(part[1:]) for part in key[5:].split(END) if part]
    if not names or not os.path.isdir(root):
        return root
    return os.path.join(root, *names)


def scan_roots(roots: Sequence[Path]) -> Scan:
    """Every candidate file under ``roots`` in collect_files order (which is key order)."""
    scan = Scan(roots)
    if len(roots) == 1:  # the common case, at full speed
        for batch in walk_folders(scan, roots[0], root_prefix(0), 0):
            scan.entries.extend(batch)
        scan.count = len(scan.entries)
        return scan
    for _ in iter_scan(scan):
        pass
    return scan


def iter_scan(scan: Scan, *, keep: bool = True, stat: bool = True) -> Iterator[Entry]:
    """Walk ``scan.roots``, yielding each entry (and keeping it in ``scan.entries``,
    or only counting it in ``scan.count`` when not ``keep``).

    Without ``stat`` sizes and times are -1 (a cold build takes them from the files it
    reads): the walk then only lists folders, which is much quicker.
    """
    roots = scan.roots
    multi = len(roots) > 1
    if not multi:
        for batch in walk_folders(scan, roots[0], root_prefix(0), 0, stat=stat):
            if keep:
                scan.entries.extend(batch)
            scan.count += len(batch)
            yield from batch
        return
    seen_files: set[str] = set()
    seen_names: set[bytes] = set()
    entries = scan.entries
    for index, root in enumerate(roots):
        for entry in walk(scan, root, root_prefix(index), index, stat=stat):
            if multi:
                location = scan.location(entry)
                if location in seen_files:
                    continue  # the same file under two of the paths given
                seen_files.add(location)
                relative = entry[KEY][5:]
                if relative in seen_names:
                    entry = (*entry[:COLLIDES], True)
                seen_names.add(relative)
            if keep:
                entries.append(entry)
            scan.count += 1
            yield entry


def count_files(roots: Sequence[Path], stop: Callable[[], bool]) -> int | None:
    """How many files a walk of ``roots`` lists (None if ``stop()`` says so first, or a
    root cannot be read): the total a cold build's progress shows long before its own
    walk, kept just ahead of the parsing, is over."""
    scan = Scan(roots)
    try:
        for _ in iter_scan(scan, keep=False, stat=False):
            if scan.count % 256 == 0 and stop():
                return None
    except OSError:
        return None
    return None if stop() else scan.count


def walk(
    scan: Scan,
    root: Path,
    prefix: bytes,
    index: int,
    folders: Sequence[str] = (),
    start: Path | None = None,
    *,
    stat: bool = True,
) -> Iterator[Entry]:
    """The files :func:`iter_report_files` yields under ``start`` (default ``root``).

    ``folders`` are the parts of ``start`` relative to ``root``, for the keys.
    """
    for batch in walk_folders(scan, root, prefix, index, folders, start, stat=stat):
        yield from batch


def walk_folders(
    scan: Scan,
    root: Path,
    prefix: bytes,
    index: int,
    folders: Sequence[str] = (),
    start: Path | None = None,
    *,
    stat: bool = True,
) -> Iterator[list[Entry]]:
    """:func:`walk`, a folder's files at a time (sizes and times -1 without ``stat``)."""
    top = start if start is not None else root
    given_top = str(top)
    absolute_top = os.path.abspath(given_top)
    if not top.is_dir():
        try:
            info = os.stat(given_top)
        except OSError:
            return
        scan.folders.append((given_top, absolute_top, index))
        key = file_key(prefix, folders[:-1], top.name) if start is not None else (
            prefix + FILE_MARK + name_bytes(top.name) + END
        )  # fmt: skip
        yield [(key, info.st_size, info.st_mtime_ns, len(scan.folders) - 1, None, False)]
        return
    lister = _list_stat if stat else _list_folder
    tree = _walk_tree(scan, given_top, absolute_top, dir_key(prefix, folders), index, lister)
    for _key, found in tree:
        if found:
            yield found


def stamp_of(info: os.stat_result) -> Stamp:
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns)


def walk_changed(
    scan: Scan, known: dict[bytes, Stamp | None], children: dict[bytes, list[bytes]]
) -> Iterator[tuple[bytes, list[Entry]]]:
    """The folders of a single-folder root that changed since ``known``, with their files.

    ``known`` holds each folder's stamp as an earlier walk saw it (None: look again) and
    ``children`` its sub-folders then. A folder with the same stamp has the same entries
    (adding, removing or renaming an entry changes its folder's times), so it is not
    listed and its files are not looked at; its sub-folders are visited as remembered.
    Yields (folder key, its files) for every folder listed, in walk order; fills
    ``scan.listed`` (what to remember for next time) and ``scan.gone`` (the keys of
    remembered folders no longer in the walk: every file under them has gone).
    """
    given_top = str(scan.roots[0])
    absolute_top = os.path.abspath(given_top)
    top_key = root_prefix(0)
    yield from _walk_tree(scan, given_top, absolute_top, top_key, 0, _list_stat, known, children)


def _walk_tree(
    scan: Scan,
    given_top: str,
    absolute_top: str,
    top_key: bytes,
    index: int,
    lister: Lister,
    known: Mapping[bytes, Stamp | None] = MappingProxyType({}),
    children: Mapping[bytes, list[bytes]] = MappingProxyType({}),
) -> Iterator[tuple[bytes, list[Entry]]]:
    """(folder key, its files) of every folder ``lister`` lists under the top folder,
    depth first in key order; a folder whose stamp is the one ``known`` is not listed,
    and its sub-folders (``children``) are visited as remembered (walk_changed).

    Fills ``scan.listed`` with every folder visited, and ``scan.gone`` with the folders
    whose files are not in the walk (unreadable, a link to a folder already walked, a
    quarantine folder, or a remembered sub-folder no longer there).
    """
    stack: list[tuple[str, str, bytes, bytes | None]] = [(given_top, absolute_top, top_key, None)]
    seen: set[tuple[int, int]] = set()
    listed, gone = scan.listed, scan.gone
    while stack:
        given, absolute, key, parent = stack.pop()
        try:
            fd = os.open(given, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            listed.append((key, parent, None))  # (tried again next time)
            unlisted = _unlisted(scan, given, absolute, key, index)
            if unlisted is None:  # (gone)
                gone.append(key)
            else:
                gone.extend(children.get(key, ()))
                yield key, unlisted
            continue
        try:
            info = os.fstat(fd)
            ident = (info.st_dev, info.st_ino)
            if ident in seen:  # (a link to a folder already walked)
                listed.append((key, parent, None))
                gone.append(key)
                continue
            seen.add(ident)
            if len(key) > ROOT_KEY_LENGTH and _is_quarantine(fd):
                # Reports kept apart (failed DKIM, unsigned) never count, as in
                # iter_report_files (only a root given itself is read). Looked at even
                # when the folder's stamp is known: an index from before this rule may
                # hold its files.
                listed.append((key, parent, None))
                gone.append(key)
                continue
            stamp = stamp_of(info)
            if stamp == known.get(key):
                names = sorted(
                    (os.fsdecode(child[len(key) + 1 : -1]), child)
                    for child in children.get(key, ())
                )
                stack.extend(
                    (*_subfolder(given, absolute, name, child), key)
                    for name, child in reversed(names)
                )
                continue
            found_subdirs = lister(fd, given, absolute, key, scan.folders, index)
            if found_subdirs is None:
                listed.append((key, parent, None))
                gone.extend(children.get(key, ()))
                yield key, _unlisted(scan, given, absolute, key, index, info) or []
                continue
            listed.append((key, parent, stamp))
            found, subdirs = found_subdirs
            if key in children:
                now = {sub[2] for sub in subdirs}
                gone.extend(child for child in children[key] if child not in now)
            stack.extend((*sub, key) for sub in reversed(subdirs))
            yield key, found
        finally:
            os.close(fd)


def _is_quarantine(fd: int) -> bool:
    """The open folder holds the quarantine marker (see core.archive.is_quarantine)."""
    try:
        os.stat(QUARANTINE_MARKER, dir_fd=fd)
    except OSError:
        return False
    return True


def _join(folder: str, name: str) -> str:
    """``folder``/``name`` (a root given with a trailing separator keeps just one)."""
    return folder + name if folder.endswith(os.sep) else folder + os.sep + name


def _subfolder(given: str, absolute: str, name: str, key: bytes) -> tuple[str, str, bytes]:
    """(path as given, absolute path, key) of the sub-folder ``name`` of a folder."""
    return _join(given, name), _join(absolute, name), key


def _unlisted(
    scan: Scan,
    given: str,
    absolute: str,
    key: bytes,
    index: int,
    info: os.stat_result | None = None,
) -> list[Entry] | None:
    """The one entry that stands for a folder that cannot be listed, so that it is an
    error (the loader says why) rather than missing files; None if the folder is gone.

    Its key is the first under the folder's (an empty file name), where its files would
    be; its name is None, its location the folder.
    """
    if info is None:
        try:
            info = os.stat(given)
        except OSError:
            return None
    scan.folders.append((given, absolute, index))
    return [(key + FILE_MARK + END, info.st_size, info.st_mtime_ns, len(scan.folders) - 1,
             None, False)]  # fmt: skip


def _special(name: str, dir_fd: int) -> os.stat_result | None:
    """The ``lstat`` of an entry whose ``stat`` failed (a broken link, a link loop), or
    None when it is gone."""
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except OSError:
        return None


def _list_stat(
    fd: int,
    given: str,
    absolute: str,
    key: bytes,
    folders_out: list[tuple[str, str, int]],
    index: int,
) -> tuple[list[Entry], list[tuple[str, str, bytes]]] | None:
    """One folder's files, with a ``stat`` each, and its sub-folders (None: unreadable).

    The hot loop of a full check (once per file of the archive; the tests check the
    scan against collect_files).
    """
    try:
        names = sorted(os.listdir(fd))
    except OSError:
        return None
    is_maildir = "cur" in names and "new" in names and "tmp" in names
    folders_out.append((given, absolute, index))
    number = len(folders_out) - 1
    subdirs: list[tuple[str, str, bytes]] = []
    found: list[Entry] = []
    add = found.append
    # Locals, not globals, in the loop below.
    os_stat, isdir = os.stat, _S_ISDIR
    hidden, temporary = _HIDDEN, TEMPORARY_SUFFIXES
    fs, errors, file_mark, dir_mark, end = _FS, _ERRORS, FILE_MARK, DIR_MARK, END
    for name in names:
        # is_candidate_name, inlined
        if name[:1] in hidden or name.lower().endswith(temporary):
            continue
        try:
            st = os_stat(name, dir_fd=fd)  # follows symlinks, like DirEntry.is_dir()
        except OSError:
            # A broken link or a link loop: an entry all the same (the loader names it).
            lst = _special(name, fd)
            if lst is None:
                continue  # (gone)
            st = lst
        mode = st.st_mode
        if isdir(mode):
            if not (is_maildir and name == "tmp"):
                # (a Maildir's tmp/ holds messages still being delivered)
                subdirs.append(
                    _subfolder(
                        given, absolute, name, key + dir_mark + name.encode(fs, errors) + end
                    )
                )
        else:
            # A file, or a FIFO, device or socket: the loader names those, never opens them.
            add(
                (
                    key + file_mark + name.encode(fs, errors) + end,
                    st.st_size,
                    st.st_mtime_ns,
                    number,
                    name,
                    False,
                )
            )
    return found, subdirs


def _list_folder(
    fd: int,
    given: str,
    absolute: str,
    key: bytes,
    folders_out: list[tuple[str, str, int]],
    index: int,
) -> tuple[list[Entry], list[tuple[str, str, bytes]]] | None:
    """One folder's files (sizes and times -1) and sub-folders, without a ``stat`` per
    file: the kind of entry comes with the listing (symlinks are followed, as
    ``os.stat`` does)."""
    try:
        with os.scandir(fd) as listing:
            by_name = {item.name: item for item in listing}
    except OSError:
        return None
    items = [by_name[name] for name in sorted(by_name)]
    is_maildir = "cur" in by_name and "new" in by_name and "tmp" in by_name
    folders_out.append((given, absolute, index))
    number = len(folders_out) - 1
    subdirs: list[tuple[str, str, bytes]] = []
    found: list[Entry] = []
    add = found.append
    hidden, temporary = _HIDDEN, TEMPORARY_SUFFIXES
    fs, errors, file_mark, dir_mark, end = _FS, _ERRORS, FILE_MARK, DIR_MARK, END
    for item in items:
        name = item.name
        if name[:1] in hidden or name.lower().endswith(temporary):
            continue
        try:
            is_dir = item.is_dir()
        except OSError:  # (a link loop: an entry, the loader names it)
            is_dir = False
        if not is_dir:
            # A file, or anything else (FIFO, device, socket, broken link): the loader
            # names those, never opens them.
            add((key + file_mark + name.encode(fs, errors) + end, -1, -1, number, name, False))
        elif not (is_maildir and name == "tmp"):
            subdirs.append(
                _subfolder(given, absolute, name, key + dir_mark + name.encode(fs, errors) + end)
            )
    return found, subdirs
