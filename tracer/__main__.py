from tracer.cli import cli

cli(prog_name="tracer")
