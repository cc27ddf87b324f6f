"""What a sync needs from the SDK's runner, and what happens without one.

Under ``fivetran debug`` and on Fivetran the runner sets the log level and receives every operation. A direct
``update()`` call (a script, or a test that stands in for ``op.upsert`` and ``op.checkpoint`` only) has no runner:
the SDK's ``Logging`` then raises on its first line, and ``op.truncate`` raises "no runner is installed". These
guards let such a call run; under a runner they change nothing.

Public: default_log_level, truncate_table
"""

_NO_RUNNER = "no runner is installed"  # the start of the SDK's RuntimeError outside its runner


def default_log_level(sdk_logging) -> None:
    """Give the SDK's ``Logging`` a level (INFO) if it has none yet (only the SDK's runner sets one)."""
    if hasattr(sdk_logging, "LOG_LEVEL") and sdk_logging.LOG_LEVEL is None:  # (a test's stand-in log has none)
        sdk_logging.LOG_LEVEL = sdk_logging.Level.INFO


def truncate_table(op, table: str, log) -> None:
    """``op.truncate(table)``: soft-delete every row synced before, so a full scan captures deletions.

    Without a runner there is no destination whose rows could be marked deleted, so the call is skipped, with a
    warning, instead of failing the sync; any other error is raised.
    """
    try:
        op.truncate(table=table)
    except RuntimeError as error:
        if not str(error).startswith(_NO_RUNNER):
            raise
        log.warning(f"{table}: no SDK runner, so earlier rows are not soft-deleted by this scan")
