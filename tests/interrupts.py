"""Interrupting the engine's epochs in tests, as a Ctrl-C would."""

from jaxlr.engine import driver


def interrupt_epochs(monkeypatch, at):
    """Make every program raise KeyboardInterrupt at its ``at``-th epoch (0-based) and count
    the epochs trained; ``calls`` is the count, ``interrupt[0] = False`` stops interrupting."""
    original, calls, interrupt = driver.Program.epoch, [], [True]

    def epoch(self, state):
        if interrupt[0] and len(calls) == at:
            raise KeyboardInterrupt
        calls.append(1)
        return original(self, state)

    monkeypatch.setattr(driver.Program, "epoch", epoch)
    return calls, interrupt
