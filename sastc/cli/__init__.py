"""The ``sastc`` command: one thin click command per stage.

Errors a user can cause are :class:`~sastc.errors.SastcError`s; they become a
one-line ``error: ...`` message and exit status 2 here, in one place.
"""

from __future__ import annotations

import click

from sastc import __version__, threads
from sastc.allocator import tune_allocator
from sastc.errors import SastcError

# before any command imports torch: its OpenMP runtime reads the wait policy when it loads
threads.quiet_wait_environment()


class SastcGroup(click.Group):
    """A click group that turns SastcError into a clear message instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SastcError as exc:
            click.secho(f"error: {exc}", err=True, fg="red")
            ctx.exit(2)


@click.group(cls=SastcGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                "max_content_width": 100})
@click.version_option(__version__, prog_name="sastc")
def main() -> None:
    """Sharpness-Aware Surrogate Training for spiking networks, and a compiler to
    bit-exact integer C for microcontrollers.

    \b
    sastc train                       train on the built-in synthetic dataset
    sastc eval RUN/checkpoint.pt      surrogate vs hard accuracy, gap, SynOps
    sastc compile RUN/checkpoint.pt --target int8-fixed
    sastc simulate BUILD              float vs integer accuracy and SynOps
    """
    tune_allocator()  # every stage allocates the same large arrays many times
    threads.start_probe()  # the load is sampled while the command imports torch and reads data


def _register() -> None:
    from sastc.cli.compile_cmd import compile_command, targets_command
    from sastc.cli.eval_cmd import eval_command
    from sastc.cli.simulate_cmd import simulate_command
    from sastc.cli.train_cmd import sweep_command, train_command

    for command in (train_command, sweep_command, eval_command, compile_command, simulate_command,
                    targets_command):
        main.add_command(command)


_register()
