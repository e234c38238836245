"""A HubSpot portal that runs on 127.0.0.1 or in-process: the engine behind ``--local`` and every scenario test.

It shares no code with the client (a fake built on the client's models would agree with the
client's mistakes). Use::

    emu = Emulator(EmulatorSettings())
    emu.app                      # the WSGI application, usable in-process
    with serve_in_thread(emu) as base_url:
        ...
"""

from provisioner.emulator.app import Emulator
from provisioner.emulator.persist import StateFileError, StateInUse
from provisioner.emulator.server import make_emulator_server, serve_in_thread
from provisioner.emulator.settings import EmulatorSettings
from provisioner.emulator.wire import DroppedConnection

__all__ = ["DroppedConnection", "Emulator", "EmulatorSettings", "StateFileError", "StateInUse",
           "make_emulator_server", "serve_in_thread"]
