"""The sandbox's inside: run as `python -I -S namespace.py ARGS -- CMD` in fresh namespaces (`jail.wrap`).

Standard library only and no site import: it runs before anything of the target's, as PID 1 of the
new PID namespace and root of the new user namespace, sets up the mounts and the loopback, then
execs the command. See `jail` for what the sandbox contains and why.
"""
from __future__ import annotations

import os
import sys

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 1024, 2048, 1 << 21
_FLAG_WORDS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC, "noatime": _MS_NOATIME,
               "nodiratime": _MS_NODIRATIME, "relatime": _MS_RELATIME}


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    enc = [None if x is None else x.encode() for x in (source, target, fstype, data)]
    if libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _mounts() -> list[tuple[str, int]]:
    """Every mount point with the flags it must keep (locked flags cannot be cleared in a user ns)."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            flags = 0
            for word in fields[5].split(","):
                flags |= _FLAG_WORDS.get(word, 0)
            out.append((point, flags))
    return out


def _read_only_everywhere(writable: list[str]) -> list[str]:
    """Remount every mount read-only but the writable ones; the mount points that refused."""
    refused = []
    for point, flags in sorted(_mounts(), key=lambda m: len(m[0])):
        if point in writable or point.startswith(("/proc", "/dev/shm")) or point == "/dev/pts":
            continue
        try:
            _mount(None, point, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags)
        except OSError:
            refused.append(point)
    return refused


def _loopback_up() -> None:
    """Bring up `lo` in the new network namespace (it starts down): loopback-only code still works."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


def _hide(home: str, keep: list[str]) -> None:
    """An empty tmpfs over `home`, then each `keep` path bound back read-only."""
    fds = {p: os.open(p, os.O_PATH) for p in keep}
    _mount("tmpfs", home, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=16m")
    for path, fd in sorted(fds.items()):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        _mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
        os.close(fd)
    _mount(None, home, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)


def _overlay(folder: str, writable: list[str]) -> bool:
    """Mount an overlay on `folder` whose writes land in the first writable folder (or, where that
    cannot hold an overlay's upper layer, in the private /dev/shm); the writable folders inside
    `folder` are bound back on top, so writes to them still reach the real ones. False if it failed."""
    fds = {w: os.open(w, os.O_PATH) for w in writable if w == folder or w.startswith(folder.rstrip("/") + "/")}
    for store in (os.path.join(writable[0], ".overlay"), "/dev/shm/.alexnet-audit-overlay"):
        upper, work = os.path.join(store, "upper"), os.path.join(store, "work")
        try:
            os.makedirs(upper, exist_ok=True)
            os.makedirs(work, exist_ok=True)
            _mount("overlay", folder, "overlay", 0, f"lowerdir={folder},upperdir={upper},workdir={work}")
        except OSError:
            continue
        for path, fd in fds.items():
            _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        return True
    return False


def enter(writable: list[str], hide: str | None, keep: list[str], overlay: list[str]) -> None:
    """Set up the sandbox in this process (PID 1 of fresh namespaces); raises OSError if it cannot."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing we mount leaks back to the host
    for w in writable:
        _mount(w, w, None, _MS_BIND | _MS_REC)  # its own mount: stays writable below
    _mount("tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777")  # DataLoader workers
    if hide:
        _hide(hide, keep)
    laid = [o for o in overlay if _overlay(o, writable)]
    os.environ["ALEXNET_AUDIT_OVERLAY"] = os.pathsep.join(laid)  # the command's writes there are contained
    os.chdir(os.getcwd())  # a working directory entered before the mounts still means the folder below them
    _read_only_everywhere(writable + laid)
    _loopback_up()


def _main(argv: list[str]) -> None:
    cut = argv.index("--")
    opts, cmd = argv[:cut], argv[cut + 1:]
    writable, keep, overlay, hide = [], [], [], None
    for flag, value in zip(opts[::2], opts[1::2], strict=True):
        if flag == "--writable":
            writable.append(value)
        elif flag == "--keep":
            keep.append(value)
        elif flag == "--overlay":
            overlay.append(value)
        elif flag == "--hide":
            hide = value
    try:
        enter(writable, hide, keep, overlay)
    except OSError as exc:
        sys.stderr.write(f"alexnet-audit: the sandbox could not be set up: {exc}\n")
        os._exit(70)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    _main(sys.argv[1:])
