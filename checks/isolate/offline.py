"""Nothing is downloaded while target code runs: a request for the network gets one clear line.

Audits and captured runs must not fetch weights or data sets (the results would depend on the
network and on what the server holds that day), and a blocked download usually surfaces as a long
urllib traceback after a timeout. Installed in the audit worker and the capture child, this makes
every way a target reaches the network fail at once with what it asked for and what to pass
instead: `torch.hub` downloads (pretrained torchvision weights, `torch.hub.load`), `urllib`, and
any socket connection to a non-loopback address (gloo and local ports still work).
"""
from __future__ import annotations

import ipaddress
import os
import socket
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

WEIGHTS = "build the model with weights=None / pretrained=False (the paper trains from scratch, §5)"
ELSEWHERE = "audits and captured runs use no network (set the library's offline switch, or ship the file)"


class DownloadRefused(RuntimeError):
    """Target code asked for the network."""


def refusal(what: str, weights: bool = True) -> str:
    return f"alexnet-audit downloads nothing: the code asked for {what}; {WEIGHTS if weights else ELSEWHERE}"


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:  # AF_UNIX paths and the like stay local
        return True
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving and reaching it is the network


def install(missing_weights: Callable[[str], Any] | None = None) -> None:
    """Refuse downloads in this process (idempotent). `missing_weights(url)`, when given, answers a
    request for weights that are not on this machine instead of refusing it (capture goes on)."""
    import torch.hub

    if getattr(torch.hub.download_url_to_file, "_alexnet_offline", False):
        return

    def download_url_to_file(url: str, *args: Any, **kwargs: Any) -> None:
        raise DownloadRefused(refusal(url))

    def hub_load(repo_or_dir: str, model: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("source", "github") == "github":
            raise DownloadRefused(refusal(f"torch.hub.load({repo_or_dir!r}, {model!r})"))
        return load(repo_or_dir, model, *args, **kwargs)

    def urlopen(url: Any, *args: Any, **kwargs: Any) -> Any:
        raise DownloadRefused(refusal(getattr(url, "full_url", url), weights=False))

    def load_state_dict_from_url(url: str, model_dir: str | None = None, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("file_name") or os.path.basename(urllib.parse.urlparse(url).path)
        cached = os.path.join(model_dir or os.path.join(torch.hub.get_dir(), "checkpoints"), name)
        if not os.path.exists(cached):  # refused before torch.hub prints "Downloading: ..."
            if missing_weights is not None:
                return missing_weights(url)
            raise DownloadRefused(refusal(url))
        return from_url(url, model_dir, *args, **kwargs)  # weights already on this machine: not a download

    load, from_url = torch.hub.load, torch.hub.load_state_dict_from_url
    download_url_to_file._alexnet_offline = True  # type: ignore[attr-defined]
    torch.hub.download_url_to_file = download_url_to_file  # load_state_dict_from_url calls it by this name
    torch.hub.load_state_dict_from_url = load_state_dict_from_url
    for module_name in ("torch.utils.model_zoo", "torchvision._internally_replaced_utils", "torchvision.models._api"):
        module = sys.modules.get(module_name)  # modules that bound the name at their import
        for attr in ("load_url", "load_state_dict_from_url"):
            if module is not None and getattr(module, attr, None) is from_url:
                setattr(module, attr, load_state_dict_from_url)
    torch.hub.load = hub_load
    urllib.request.urlopen = urlopen
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def checked(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise DownloadRefused(refusal(f"a connection to {address[0]}:{address[1]}", weights=False))

    def sock_connect(self: socket.socket, address: Any) -> None:
        checked(self, address)
        connect(self, address)

    def sock_connect_ex(self: socket.socket, address: Any) -> int:
        checked(self, address)
        return connect_ex(self, address)

    socket.socket.connect = sock_connect  # type: ignore[assignment, method-assign]
    socket.socket.connect_ex = sock_connect_ex  # type: ignore[assignment, method-assign]
