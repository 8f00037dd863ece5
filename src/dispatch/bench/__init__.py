"""The load benchmark (`dispatch bench`): the pipeline end to end against the simulator,
beside the raw ceiling of the same gateway client with no queue.

    runner.run_bench(options, workdir) -> report    the whole run (options.BenchOptions)
    ceiling                                          the ceiling client (python -m ...)
    pipeline / services / workload / sampler         the measured run and its processes
    measure / curves / report / profile              reading and summarising what ran
"""
