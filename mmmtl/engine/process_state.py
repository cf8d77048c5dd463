"""Whether a process of this host still runs (for stale locks and files)."""
import os
import os.path as osp
import socket


def this_host() -> str:
    """The host name written into lock and temporary file names."""
    return socket.gethostname()


def pid_is_running(pid: int) -> bool:
    """``True`` if process ``pid`` exists on this host and is not a zombie.

    A process owned by another user counts as running (``os.kill`` is
    refused, but the process exists).
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f'/proc/{pid}/stat') as f:
            # "pid (comm) state ...": comm may hold spaces and parentheses
            state = f.read().rsplit(')', 1)[1].split()[0]
    except FileNotFoundError:
        # it exited just now, unless this system has no procfs at all
        return not osp.isdir('/proc/self')
    return state != 'Z'
