"""`loader emulator`: serve a local Klaviyo-compatible API on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import typer

from loader.cli._app import app, guarded
from loader.errors import ConfigError


@app.command("emulator")
@guarded
def emulator(
    port: int = typer.Option(8765, "--port", help="Port on 127.0.0.1 (0 picks a free one)."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="Accept only this private key (default: any pk_… key)."
    ),
    rate_limits: str = typer.Option(
        "on", "--rate-limits", help="on | off | SCALE (multiplies Klaviyo's published rates)."
    ),
    faults: float = typer.Option(
        0.0, "--faults", help="Chance (0-1) that a request fails: 5xx, reset, slow, 429 storm."
    ),
    fault_seed: int = typer.Option(0, "--fault-seed", help="Seed of the fault sequence."),
    fault_kinds: str | None = typer.Option(
        None, "--fault-kinds",
        help="Comma-separated kinds: 500,502,503,reset,slow,storm (default all) and lost.",
    ),
    job_delay: float = typer.Option(
        1.0, "--job-delay", help="Seconds before a bulk import job starts processing."
    ),
    stop_after: float | None = typer.Option(
        None, "--stop-after", help="Stop by itself after this many seconds."
    ),
    account_id: str | None = typer.Option(
        None, "--account-id",
        help="The emulated account's id (default: a new random one each start); a stable id "
        "keeps `loader status` on one account across restarts.",
    ),
) -> None:
    """Run the Klaviyo emulator (see docs/emulator.md). Prints its base URL."""
    from klaviyo_emulator import Emulator
    from klaviyo_emulator.limits import parse_rate_limits

    try:
        scale = parse_rate_limits(rate_limits)
        emu = Emulator(port=port, api_key=api_key, rate_limits=scale, faults=faults,
                       fault_seed=fault_seed, job_delay=job_delay, gc_freeze=True,
                       account_id=account_id)
        if fault_kinds:
            emu.configure(fault_kinds=[k.strip() for k in fault_kinds.split(",") if k.strip()])
    except ValueError as exc:
        raise ConfigError(f"emulator: {exc}") from None
    try:
        emu.start()
    except OSError as exc:
        raise ConfigError(f"emulator: cannot listen on 127.0.0.1:{port}: {exc.strerror}",
                          hint="Pick another --port, or --port 0 for a free one.") from None
    limits = "off" if scale is None else f"x{scale:g}"
    print(f"Klaviyo emulator on {emu.base_url}  (rate limits {limits}, faults {faults:g}, "
          f"job delay {job_delay:g}s; inspection under {emu.base_url}/_emulator/)", flush=True)
    try:
        if stop_after is None:
            while not emu.wait_stopped(3600):
                pass
        else:
            emu.wait_stopped(stop_after)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        print("Klaviyo emulator stopped.", flush=True)
