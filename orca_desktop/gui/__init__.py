"""The desktop GUI: main window and tray icon on top of the core, on the qasync loop.

`app.py` owns the `QApplication` and the loop and calls `run_gui(core,
quit_event)` once the core is running. The GUI reaches the core only through
events, the LiveView and the `Core` facade. It never imports `gateway/` or
`providers/`, and never quits the Qt application itself: Quit sets
`quit_event`, and `app.py` shuts down and returns.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from PySide6.QtWidgets import QSystemTrayIcon

from orca_desktop.gui._core import CoreLike, has_usable_provider
from orca_desktop.gui.tray import TrayIcon
from orca_desktop.gui.window import MainWindow

__all__ = ["Gui", "MainWindow", "TrayIcon", "run_gui"]

NO_TRAY_MESSAGE = (
    "<b>No system tray was found</b>, so Orca runs in this window. Closing the window quits "
    "Orca. (On GNOME, install the AppIndicator extension to get the tray icon.)"
)


@dataclass(slots=True)
class Gui:
    """What `run_gui` built; `close()` detaches it from the core before shutdown."""

    window: MainWindow
    tray: TrayIcon | None

    def open_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def close(self) -> None:
        """Unsubscribe from the core's hub, leave the tray, and delete the widgets."""
        if self.tray is not None:
            self.tray.close()
        self.window.feed.close()
        self.window.hide()
        self.window.deleteLater()  # the tray icon is the window's child


def run_gui(
    core: CoreLike,
    quit_event: asyncio.Event,
    *,
    show_window: bool = False,
    tray: bool | None = None,
) -> Gui:
    """Build the window and the tray icon; show the tray (or the window when there is none).

    The window also opens at once when `show_window` is set (e.g. after the
    core restarted into demo mode from the window) and on first run (no usable
    provider), so a new user sees what to do. `tray=False` forces window-only.
    """
    use_tray = QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray
    window = MainWindow(core, on_close=None if use_tray else quit_event.set)
    gui = Gui(window=window, tray=None)
    if use_tray:
        gui.tray = TrayIcon(core, on_open=gui.open_window, on_quit=quit_event.set, parent=window)
        gui.tray.show()
        if show_window or not has_usable_provider(core):
            gui.open_window()
    else:
        window.say(NO_TRAY_MESSAGE)
        gui.open_window()
    return gui
